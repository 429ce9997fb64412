// The real servers of the QEMU checker comparison (bench/checks/vm.ts): one epoll loop on
// 0.0.0.0:PORT answering every HTTP request with 200 "ok" and closing, and counting accepted
// connections (GET /__count answers the running total). In C because the guest has one emulated
// vCPU: a Node http server there could not serve 300 checks a second, so both daemons' checks
// queued behind it and their CPU per check measured the listener's saturation.
//
//   listener PORT
//
// Every connection is closed after the reply (or when the client closes first, as a TCP_CHECK
// does); what the client sent is read first, so the close is a FIN, not an RST.
#define _GNU_SOURCE  // accept4, memmem
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define BUF 4096

static const char kOk[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";

struct conn {
  int fd;
  size_t len;
  char buf[BUF];
};

static unsigned long long accepted;

static void finish(struct conn* c) {
  close(c->fd);
  free(c);
}

static void reply(struct conn* c) {
  char out[256];
  const char* msg = kOk;
  size_t n = sizeof kOk - 1;
  if (c->len >= 12 && memcmp(c->buf, "GET /__count", 12) == 0) {
    char body[32];
    int b = snprintf(body, sizeof body, "%llu", accepted);
    n = (size_t)snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", b, body);
    msg = out;
  }
  // a short reply fits the socket buffer of a fresh connection
  if (write(c->fd, msg, n) < 0) {
    // the client is gone: nothing to do
  }
  shutdown(c->fd, SHUT_WR);
}

int main(int argc, char** argv) {
  int port = argc > 1 ? atoi(argv[1]) : 80;
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(ls, (struct sockaddr*)&a, sizeof a) < 0 || listen(ls, 8192) < 0) {
    perror("listen");
    return 1;
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  printf("listening\n");
  fflush(stdout);
  struct epoll_event evs[MAX_EVENTS];
  for (;;) {
    int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      struct conn* c = evs[i].data.ptr;
      if (c == NULL) {
        for (;;) {
          int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;
          accepted++;
          struct conn* nc = malloc(sizeof *nc);
          if (nc == NULL) {
            close(fd);
            continue;
          }
          nc->fd = fd;
          nc->len = 0;
          struct epoll_event ce = {.events = EPOLLIN, .data.ptr = nc};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ce);
        }
        continue;
      }
      // Read what came; reply once the request's head is in; close on the client's FIN.
      for (;;) {
        char* at = c->len < BUF ? c->buf + c->len : NULL;
        char sink[BUF];
        ssize_t r = read(c->fd, at ? at : sink, at ? BUF - c->len : sizeof sink);
        if (r > 0) {
          if (at == NULL) continue;
          size_t before = c->len;
          c->len += (size_t)r;
          int had = before >= 4 && memmem(c->buf, before, "\r\n\r\n", 4) != NULL;
          if (!had && memmem(c->buf, c->len, "\r\n\r\n", 4) != NULL) reply(c);
          continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        finish(c);  // EOF or an error
        break;
      }
    }
  }
}
