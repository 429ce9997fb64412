#include "tcp_connect.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "common.h"

namespace vk {

namespace {
void DeleteConnectPoll(uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); }
void DeleteGraceTimer(uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); }
// Time to wait for the server's FIN after ours (the JS path's CLOSE_GRACE_MS).
constexpr uint64_t kCloseGraceMs = 250;
}  // namespace

Napi::Function TcpConnect::Init(Napi::Env env) {
  return DefineClass(env, "TcpConnect", {InstanceMethod<&TcpConnect::Cancel>("cancel")});
}

// new TcpConnect(family 4|6, host, port, bindHost | '', bindPort | 0, callback(errno))
TcpConnect::TcpConnect(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TcpConnect>(info) {
  Napi::Env env = info.Env();
  int fam = ArgInt(info, 0, "family", 4, 6);
  if (fam != 4 && fam != 6) ThrowType(env, "family must be 4 or 6");
  int family = fam == 4 ? AF_INET : AF_INET6;
  std::string host = ArgString(info, 1, "host");
  int port = ArgInt(info, 2, "port", 1, 65535);
  std::string bind_host = ArgOptString(info, 3, "bindHost");
  int bind_port = ArgInt(info, 4, "bindPort", 0, 65535);
  if (info.Length() < 6 || !info[5].IsFunction()) ThrowType(env, "callback must be a function");

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

  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) throw Napi::Error::New(env, "napi_get_uv_event_loop failed");
  auto* h = new uv_poll_t;
  int ur = uv_poll_init(loop, h, fd.get());
  if (ur < 0) {
    delete h;
    ThrowErrno(env, "uv_poll_init", -ur);
  }
  h->data = this;
  // Connected (or failed) = writable; the result is in SO_ERROR.
  ur = uv_poll_start(h, UV_WRITABLE, &TcpConnect::OnPoll);
  if (ur < 0) {
    h->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(h), DeleteConnectPoll);
    ThrowErrno(env, "uv_poll_start", -ur);
  }
  fd_ = fd.release();
  poll_ = h;
  callback_ = Napi::Persistent(info[5].As<Napi::Function>());
  Ref();  // alive until the result or cancel()
  holds_ref_ = true;
}

TcpConnect::~TcpConnect() {
  // Only reached once unreferenced, i.e. after Release(); kept safe anyway.
  if (poll_ != nullptr) {
    uv_poll_stop(poll_);
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), DeleteConnectPoll);
    poll_ = nullptr;
  }
  if (grace_ != nullptr) {
    uv_timer_stop(grace_);
    grace_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(grace_), DeleteGraceTimer);
    grace_ = nullptr;
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void TcpConnect::Release() {
  if (poll_ != nullptr) {
    uv_poll_stop(poll_);
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), DeleteConnectPoll);
    poll_ = nullptr;
  }
  if (grace_ != nullptr) {
    uv_timer_stop(grace_);
    grace_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(grace_), DeleteGraceTimer);
    grace_ = nullptr;
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  callback_.Reset();
  if (holds_ref_) {
    holds_ref_ = false;
    Unref();
  }
}

// FIN now; read and drop what the server sends until its FIN, or until the grace period ends.
bool TcpConnect::StartDrain() {
  if (::shutdown(fd_, SHUT_WR) < 0) return false;
  if (uv_poll_start(poll_, UV_READABLE, &TcpConnect::OnDrain) < 0) return false;
  uv_loop_t* loop = uv_handle_get_loop(reinterpret_cast<uv_handle_t*>(poll_));
  auto* t = new uv_timer_t;
  if (uv_timer_init(loop, t) < 0) {
    delete t;
    return false;
  }
  t->data = this;
  grace_ = t;
  uv_timer_start(t, &TcpConnect::OnGrace, kCloseGraceMs, 0);
  // a polite close must not keep a process alive
  uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  uv_unref(reinterpret_cast<uv_handle_t*>(t));
  return true;
}

void TcpConnect::OnDrain(uv_poll_t* handle, int status, int /*events*/) {
  auto* self = static_cast<TcpConnect*>(handle->data);
  if (self == nullptr) return;
  if (status < 0) {
    self->Release();
    return;
  }
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(self->fd_, buf, sizeof buf);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    self->Release();  // EOF (the server's FIN) or an error (e.g. its RST)
    return;
  }
}

void TcpConnect::OnGrace(uv_timer_t* handle) {
  auto* self = static_cast<TcpConnect*>(handle->data);
  if (self != nullptr) self->Release();
}

Napi::Value TcpConnect::Cancel(const Napi::CallbackInfo& info) {
  if (!reported_) Release();  // after the result, the background close runs its course
  return info.Env().Undefined();
}

void TcpConnect::OnPoll(uv_poll_t* handle, int status, int /*events*/) {
  auto* self = static_cast<TcpConnect*>(handle->data);
  if (self == nullptr) return;
  // libuv reports POLLERR (a failed connect) as status UV_EBADF; the real error is in SO_ERROR
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(self->fd_, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  if (err == 0 && status < 0) err = -status;
  self->Done(err);
}

void TcpConnect::Done(int err) {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  Napi::Function cb = callback_.IsEmpty() ? Napi::Function() : callback_.Value();
  Napi::Object self = Value();
  callback_.Reset();
  reported_ = true;
  if (err != 0 || !StartDrain()) Release();  // before the callback, whatever it does
  if (cb.IsEmpty()) return;
  try {
    cb.MakeCallback(self, {Napi::Number::New(env, err)});
  } catch (const Napi::Error& e) {
    napi_fatal_exception(env, e.Value());
  }
}

}  // namespace vk
