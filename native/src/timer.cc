#include "timer.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdint>

#include "common.h"

namespace vk {

namespace {
void DeleteTimerPoll(uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); }
}  // namespace

Napi::Function PreciseTimer::Init(Napi::Env env) {
  return DefineClass(env, "PreciseTimer",
                     {
                         InstanceMethod<&PreciseTimer::Arm>("arm"),
                         InstanceMethod<&PreciseTimer::Disarm>("disarm"),
                         InstanceMethod<&PreciseTimer::Close>("close"),
                         InstanceAccessor<&PreciseTimer::GetClosed>("closed"),
                     });
}

PreciseTimer::PreciseTimer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PreciseTimer>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) ThrowType(env, "callback must be a function");
  int fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd < 0) ThrowErrno(env, "timerfd_create", errno);
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    ::close(fd);
    throw Napi::Error::New(env, "napi_get_uv_event_loop failed");
  }
  auto* h = new uv_poll_t;
  int r = uv_poll_init(loop, h, fd);
  if (r < 0) {
    delete h;
    ::close(fd);
    ThrowErrno(env, "uv_poll_init", -r);
  }
  h->data = this;
  r = uv_poll_start(h, UV_READABLE, &PreciseTimer::OnPoll);
  if (r < 0) {
    h->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(h), DeleteTimerPoll);
    ::close(fd);
    ThrowErrno(env, "uv_poll_start", -r);
  }
  // Like an idle setTimeout: only an armed timer keeps the loop alive.
  uv_unref(reinterpret_cast<uv_handle_t*>(h));
  fd_ = fd;
  poll_ = h;
  callback_ = Napi::Persistent(info[0].As<Napi::Function>());
  Ref();  // the poll handle points at this object until close()
  holds_ref_ = true;
}

PreciseTimer::~PreciseTimer() { CloseAll(false); }

void PreciseTimer::SetTime(Napi::Env env, long long ns) {
  itimerspec its{};
  its.it_value.tv_sec = static_cast<time_t>(ns / 1000000000LL);
  its.it_value.tv_nsec = static_cast<long>(ns % 1000000000LL);
  if (::timerfd_settime(fd_, 0, &its, nullptr) < 0) ThrowErrno(env, "timerfd_settime", errno);
}

Napi::Value PreciseTimer::Arm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (fd_ < 0) ThrowErrno(env, "PreciseTimer is closed", EBADF);
  if (info.Length() < 1 || !info[0].IsNumber()) ThrowType(env, "delay must be a number of milliseconds");
  double ms = info[0].As<Napi::Number>().DoubleValue();
  // A zero it_value disarms, so "now" is 1 ns; cap at ~24 days like setTimeout's maximum.
  long long ns = std::isfinite(ms) && ms > 0 ? static_cast<long long>(std::fmin(ms, 2147483647.0) * 1e6) : 1;
  if (ns < 1) ns = 1;
  SetTime(env, ns);
  uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
  return env.Undefined();
}

Napi::Value PreciseTimer::Disarm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (fd_ < 0) return env.Undefined();
  SetTime(env, 0);
  uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  return env.Undefined();
}

Napi::Value PreciseTimer::Close(const Napi::CallbackInfo& info) {
  CloseAll(true);
  return info.Env().Undefined();
}

Napi::Value PreciseTimer::GetClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), fd_ < 0); }

void PreciseTimer::CloseAll(bool release_ref) {
  if (poll_ != nullptr) {
    uv_poll_stop(poll_);
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), DeleteTimerPoll);
    poll_ = nullptr;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  callback_.Reset();
  if (holds_ref_) {
    if (release_ref) Unref();
    holds_ref_ = false;
  }
}

void PreciseTimer::OnPoll(uv_poll_t* handle, int status, int /*events*/) {
  auto* self = static_cast<PreciseTimer*>(handle->data);
  // As RawSocket::OnPoll: nothing may escape into libuv (a worker being torn down).
  try {
    if (self != nullptr) self->OnReadable(status);
  } catch (const Napi::Error&) {
  }
}

void PreciseTimer::OnReadable(int status) {
  if (fd_ < 0 || status < 0) return;
  uint64_t expirations = 0;
  // EAGAIN: re-armed or disarmed after it expired but before this callback; nothing is due.
  if (::read(fd_, &expirations, sizeof expirations) != static_cast<ssize_t>(sizeof expirations)) return;
  uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  Napi::Object self = Value();
  if (self.IsEmpty() || callback_.IsEmpty()) return;
  try {
    callback_.MakeCallback(self, {});
  } catch (const Napi::Error& e) {
    napi_fatal_exception(env, e.Value());
  }
}

}  // namespace vk
