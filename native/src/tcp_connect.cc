#include "tcp_connect.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "common.h"

namespace vk {

// Time to wait for the server's FIN after ours (the JS path's CLOSE_GRACE_MS).
constexpr uint64_t kCloseGraceMs = 250;

struct TcpConnector::Conn {
  TcpConnector* owner = nullptr;  // null once the connector is gone (closing handles only)
  uint32_t id = 0;
  int fd = -1;
  uv_poll_t poll{};
  uv_timer_t grace{};
  bool timer_started = false;
  int open_handles = 0;
};

namespace {

void OnHandleClosed(uv_handle_t* h) {
  auto* c = static_cast<TcpConnector::Conn*>(h->data);
  if (--c->open_handles == 0) delete c;
}

// Closes the fd and both handles; the Conn is freed when libuv has closed them.
void Dispose(TcpConnector::Conn* c) {
  if (c->fd >= 0) ::close(c->fd);  // after FIN and drain: nothing unread, so no RST
  c->fd = -1;
  c->owner = nullptr;
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

// connect(family 4|6, host, port, bindHost | '', bindPort | 0) -> id. Throws (with .code) if
// the socket cannot be made, bound or connected; otherwise the callback gets (id, errno) once.
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
  int r;
  do {
    r = ::connect(fd.get(), dst.sa(), dst.len);
  } while (r < 0 && errno == EINTR);
  if (r < 0 && errno != EINPROGRESS) ThrowErrno(env, "connect", errno);

  auto* c = new Conn();
  c->owner = this;
  c->id = next_id_++;
  if (next_id_ == 0) next_id_ = 1;
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
  pending_.emplace(c->id, c);
  if (pending_.size() == 1) Ref();  // alive while it owes a callback
  return Napi::Number::New(env, c->id);
}

// Abandons a connect that has not reported yet: no callback. Unknown ids are ignored.
Napi::Value TcpConnector::Cancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) ThrowType(env, "id must be a number");
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  auto it = pending_.find(id);
  if (it != pending_.end()) {
    Conn* c = it->second;
    pending_.erase(it);
    Dispose(c);
    if (pending_.empty()) Unref();
  }
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

void TcpConnector::OnWritable(uv_poll_t* handle, int status, int /*events*/) {
  auto* c = static_cast<Conn*>(handle->data);
  if (c == nullptr || c->owner == nullptr) return;
  // libuv reports POLLERR (a failed connect) as status UV_EBADF; the real error is in SO_ERROR
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  if (err == 0 && status < 0) err = -status;
  c->owner->Report(c, err);
}

void TcpConnector::Report(Conn* c, int err) {
  uint32_t id = c->id;
  pending_.erase(id);
  bool drain = false;
  if (err == 0 && ::shutdown(c->fd, SHUT_WR) == 0 && uv_poll_start(&c->poll, UV_READABLE, &TcpConnector::OnDrain) == 0 &&
      uv_timer_init(loop_, &c->grace) == 0) {
    // FIN sent; read and drop until the server's FIN, or until the grace period ends. A polite
    // close must not keep a process alive.
    c->grace.data = c;
    c->timer_started = true;
    uv_timer_start(&c->grace, &TcpConnector::OnGrace, kCloseGraceMs, 0);
    uv_unref(reinterpret_cast<uv_handle_t*>(&c->poll));
    uv_unref(reinterpret_cast<uv_handle_t*>(&c->grace));
    draining_.emplace(id, c);
    drain = true;
  }
  if (!drain) Dispose(c);

  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  Napi::Object self = Value();
  if (pending_.empty()) Unref();  // `self` keeps it alive through the callback
  if (callback_.IsEmpty()) return;
  try {
    callback_.MakeCallback(self, {Napi::Number::New(env, id), Napi::Number::New(env, err)});
  } catch (const Napi::Error& e) {
    napi_fatal_exception(env, e.Value());
  }
}

void TcpConnector::Finish(Conn* c) {
  draining_.erase(c->id);
  Dispose(c);
}

void TcpConnector::OnDrain(uv_poll_t* handle, int status, int /*events*/) {
  auto* c = static_cast<Conn*>(handle->data);
  if (c == nullptr || c->owner == nullptr) return;
  if (status < 0) {
    c->owner->Finish(c);
    return;
  }
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(c->fd, buf, sizeof buf);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    c->owner->Finish(c);  // EOF (the server's FIN) or an error (e.g. its RST)
    return;
  }
}

void TcpConnector::OnGrace(uv_timer_t* handle) {
  auto* c = static_cast<TcpConnector::Conn*>(handle->data);
  if (c != nullptr && c->owner != nullptr) c->owner->Finish(c);
}

}  // namespace vk
