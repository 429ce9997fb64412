#include "tcp_connect.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "common.h"

namespace vk {

namespace {
// Time to wait for the server's FIN after ours (the JS path's CLOSE_GRACE_MS).
constexpr uint64_t kCloseGraceMs = 250;
enum Event { kConnected = 0, kSent = 1, kData = 2, kEnd = 3, kError = 4 };
}  // namespace

struct TcpConnector::Conn {
  TcpConnector* owner = nullptr;  // valid while !dead (the connector disposes every Conn it owns)
  uint32_t id = 0;
  int fd = -1;
  bool exchange = false;
  std::string out;  // the request (exchange)
  size_t sent = 0;
  uv_poll_t poll{};
  uv_timer_t grace{};
  bool timer_started = false;
  bool dead = false;  // no more callbacks into the connector
  int open_handles = 0;
};

namespace {

void OnHandleClosed(uv_handle_t* h) {
  auto* c = static_cast<TcpConnector::Conn*>(h->data);
  if (--c->open_handles == 0) delete c;
}

// Closes the fd and both handles; the Conn is freed when libuv has closed them.
void Dispose(TcpConnector::Conn* c) {
  if (c->fd >= 0) ::close(c->fd);
  c->fd = -1;
  c->dead = true;
  uv_poll_stop(&c->poll);
  c->open_handles = 1;
  if (c->timer_started) {
    uv_timer_stop(&c->grace);
    c->open_handles = 2;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->grace), OnHandleClosed);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&c->poll), OnHandleClosed);
}

}  // namespace

Napi::Function TcpConnector::Init(Napi::Env env) {
  return DefineClass(env, "TcpConnector",
                     {
                         InstanceMethod<&TcpConnector::Connect>("connect"),
                         InstanceMethod<&TcpConnector::Cancel>("cancel"),
                         InstanceMethod<&TcpConnector::Finish>("finish"),
                         InstanceMethod<&TcpConnector::Close>("close"),
                         InstanceAccessor<&TcpConnector::GetPending>("pending"),
                     });
}

TcpConnector::TcpConnector(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TcpConnector>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) ThrowType(env, "callback must be a function");
  if (napi_get_uv_event_loop(env, &loop_) != napi_ok || loop_ == nullptr) throw Napi::Error::New(env, "napi_get_uv_event_loop failed");
  callback_ = Napi::Persistent(info[0].As<Napi::Function>());
}

TcpConnector::~TcpConnector() {
  for (auto& [id, c] : pending_) Dispose(c);
  for (auto& [id, c] : draining_) Dispose(c);
  pending_.clear();
  draining_.clear();
}

// connect(family 4|6, host, port, bindHost | '', bindPort | 0, request?: Buffer) -> id. Throws
// (with .code) if the socket cannot be made, bound or connected; otherwise events follow.
Napi::Value TcpConnector::Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) ThrowErrno(env, "TcpConnector is closed", EBADF);
  int fam = ArgInt(info, 0, "family", 4, 6);
  if (fam != 4 && fam != 6) ThrowType(env, "family must be 4 or 6");
  int family = fam == 4 ? AF_INET : AF_INET6;
  std::string host = ArgString(info, 1, "host");
  int port = ArgInt(info, 2, "port", 1, 65535);
  std::string bind_host = ArgOptString(info, 3, "bindHost");
  int bind_port = ArgInt(info, 4, "bindPort", 0, 65535);
  bool exchange = info.Length() > 5 && info[5].IsBuffer();

  SockAddr dst = ParseAddr(env, family, host);
  if (family == AF_INET) reinterpret_cast<sockaddr_in*>(&dst.ss)->sin_port = htons(static_cast<uint16_t>(port));
  else reinterpret_cast<sockaddr_in6*>(&dst.ss)->sin6_port = htons(static_cast<uint16_t>(port));

  Fd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) ThrowErrno(env, "socket", errno);
  if (!bind_host.empty() || bind_port != 0) {
    SockAddr src;
    if (!bind_host.empty()) {
      src = ParseAddr(env, family, bind_host);
    } else {
      src.ss.ss_family = static_cast<sa_family_t>(family);
      src.len = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    }
    if (family == AF_INET) reinterpret_cast<sockaddr_in*>(&src.ss)->sin_port = htons(static_cast<uint16_t>(bind_port));
    else reinterpret_cast<sockaddr_in6*>(&src.ss)->sin6_port = htons(static_cast<uint16_t>(bind_port));
    if (::bind(fd.get(), src.sa(), src.len) < 0) ThrowErrno(env, "bind", errno);
  }
  if (exchange) {
    // keepalived's HTTP check writes the request at once; no Nagle delay for a short request
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof one);
  }
  int r;
  do {
    r = ::connect(fd.get(), dst.sa(), dst.len);
  } while (r < 0 && errno == EINTR);
  if (r < 0 && errno != EINPROGRESS) ThrowErrno(env, "connect", errno);

  auto* c = new Conn();
  c->id = next_id_++;
  if (next_id_ == 0) next_id_ = 1;
  c->exchange = exchange;
  if (exchange) {
    auto b = info[5].As<Napi::Buffer<char>>();
    c->out.assign(b.Data(), b.Length());
  }
  int ur = uv_poll_init(loop_, &c->poll, fd.get());
  if (ur < 0) {
    delete c;
    ThrowErrno(env, "uv_poll_init", -ur);
  }
  c->poll.data = c;
  c->fd = fd.release();
  // Connected (or failed) = writable; the result is in SO_ERROR.
  ur = uv_poll_start(&c->poll, UV_WRITABLE, &TcpConnector::OnWritable);
  if (ur < 0) {
    Dispose(c);
    ThrowErrno(env, "uv_poll_start", -ur);
  }
  c->owner = this;
  pending_.emplace(c->id, c);
  if (pending_.size() == 1) Ref();  // alive while it owes events
  return Napi::Number::New(env, c->id);
}

// Abandons a connection that still owes events: closed at once, no more events. Unknown ids
// are ignored.
Napi::Value TcpConnector::Cancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) ThrowType(env, "id must be a number");
  auto it = pending_.find(info[0].As<Napi::Number>().Uint32Value());
  if (it != pending_.end()) Retire(it->second, false);
  return env.Undefined();
}

// Ends an exchange JS has read enough of: no more events; closed politely in the background.
Napi::Value TcpConnector::Finish(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) ThrowType(env, "id must be a number");
  auto it = pending_.find(info[0].As<Napi::Number>().Uint32Value());
  if (it != pending_.end()) Retire(it->second, true);
  return env.Undefined();
}

Napi::Value TcpConnector::GetPending(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(pending_.size() + draining_.size()));
}

Napi::Value TcpConnector::Close(const Napi::CallbackInfo& info) {
  bool had = !pending_.empty();
  for (auto& [id, c] : pending_) Dispose(c);
  for (auto& [id, c] : draining_) Dispose(c);
  pending_.clear();
  draining_.clear();
  if (had) Unref();
  closed_ = true;
  return info.Env().Undefined();
}

void TcpConnector::Retire(Conn* c, bool polite) {
  pending_.erase(c->id);
  bool drained = false;
  if (polite && c->fd >= 0 && ::shutdown(c->fd, SHUT_WR) == 0 &&
      uv_poll_start(&c->poll, UV_READABLE, &TcpConnector::OnDrain) == 0 && uv_timer_init(loop_, &c->grace) == 0) {
    // FIN sent; read and drop until the server's FIN, or until the grace period ends. A polite
    // close must not keep a process alive.
    c->grace.data = c;
    c->timer_started = true;
    uv_timer_start(&c->grace, &TcpConnector::OnGrace, kCloseGraceMs, 0);
    uv_unref(reinterpret_cast<uv_handle_t*>(&c->poll));
    uv_unref(reinterpret_cast<uv_handle_t*>(&c->grace));
    draining_.emplace(c->id, c);
    drained = true;
  }
  if (!drained) Dispose(c);
  if (pending_.empty()) Unref();
}

bool TcpConnector::Emit(Conn* c, int event, int err, const char* data, size_t len) {
  uint32_t id = c->id;
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  Napi::Object self = Value();  // alive through the callback even if Retire unrefs it
  if (!callback_.IsEmpty()) {
    Napi::Value buf = data != nullptr ? Napi::Buffer<char>::Copy(env, data, len).As<Napi::Value>() : env.Undefined();
    try {
      callback_.MakeCallback(self, {Napi::Number::New(env, id), Napi::Number::New(env, event), Napi::Number::New(env, err), buf});
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env, e.Value());
    }
  }
  return pending_.find(id) != pending_.end();
}

bool TcpConnector::SendMore(Conn* c) {
  while (c->sent < c->out.size()) {
    ssize_t n = ::send(c->fd, c->out.data() + c->sent, c->out.size() - c->sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c->sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;  // more on the next writable
    int err = n < 0 ? errno : EPIPE;
    Retire(c, false);
    Emit(c, kError, err, nullptr, 0);
    return false;
  }
  return true;
}

void TcpConnector::OnWritable(uv_poll_t* handle, int status, int /*events*/) {
  auto* c = static_cast<Conn*>(handle->data);
  if (c == nullptr || c->dead) return;
  auto* self = c->owner;
  if (c->sent == 0) {
    // libuv reports POLLERR (a failed connect) as status UV_EBADF; the real error is in SO_ERROR
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err == 0 && status < 0) err = -status;
    if (err != 0) {
      self->Retire(c, false);
      self->Emit(c, kError, err, nullptr, 0);
      return;
    }
    if (!c->exchange) {
      self->Retire(c, true);
      self->Emit(c, kConnected, 0, nullptr, 0);
      return;
    }
  }
  if (!self->SendMore(c)) return;
  if (c->sent < c->out.size()) return;
  std::string().swap(c->out);
  if (uv_poll_start(&c->poll, UV_READABLE, &TcpConnector::OnReadable) < 0) {
    self->Retire(c, false);
    self->Emit(c, kError, EIO, nullptr, 0);
    return;
  }
  self->Emit(c, kSent, 0, nullptr, 0);
}

void TcpConnector::OnReadable(uv_poll_t* handle, int status, int /*events*/) {
  auto* c = static_cast<Conn*>(handle->data);
  if (c == nullptr || c->dead) return;
  auto* self = c->owner;
  char buf[16384];
  for (int i = 0; i < 16; ++i) {
    ssize_t n = ::read(c->fd, buf, sizeof buf);
    if (n > 0) {
      if (!self->Emit(c, kData, 0, buf, static_cast<size_t>(n))) return;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (status < 0) break;
      return;
    }
    int err = n < 0 ? errno : 0;
    self->Retire(c, false);  // the server closed (or reset): nothing left to be polite about
    self->Emit(c, err == 0 ? kEnd : kError, err, nullptr, 0);
    return;
  }
}

void TcpConnector::DrainDone(Conn* c) {
  draining_.erase(c->id);
  Dispose(c);
}

void TcpConnector::OnDrain(uv_poll_t* handle, int status, int /*events*/) {
  auto* c = static_cast<Conn*>(handle->data);
  if (c == nullptr || c->dead) return;
  if (status < 0) {
    c->owner->DrainDone(c);
    return;
  }
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(c->fd, buf, sizeof buf);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    c->owner->DrainDone(c);  // EOF or an error
    return;
  }
}

void TcpConnector::OnGrace(uv_timer_t* handle) {
  auto* c = static_cast<Conn*>(handle->data);
  if (c == nullptr || c->dead) return;
  c->owner->DrainDone(c);
}

}  // namespace vk
