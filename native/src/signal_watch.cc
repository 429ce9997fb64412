#include "signal_watch.h"

#include <csignal>

#include "common.h"

namespace vk {

namespace {
void DeleteSignalHandle(uv_handle_t* h) { delete reinterpret_cast<uv_signal_t*>(h); }
}  // namespace

Napi::Function SignalWatch::Init(Napi::Env env) {
  return DefineClass(env, "SignalWatch",
                     {
                         InstanceMethod<&SignalWatch::Close>("close"),
                         InstanceAccessor<&SignalWatch::GetClosed>("closed"),
                     });
}

// new SignalWatch(signum, callback(signum))
SignalWatch::SignalWatch(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SignalWatch>(info) {
  Napi::Env env = info.Env();
  int signum = ArgInt(info, 0, "signum", 1, 64);
  if (signum == SIGKILL || signum == SIGSTOP) ThrowType(env, "SIGKILL and SIGSTOP cannot be watched");
  if (info.Length() < 2 || !info[1].IsFunction()) ThrowType(env, "callback must be a function");
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) throw Napi::Error::New(env, "napi_get_uv_event_loop failed");
  auto* h = new uv_signal_t;
  int r = uv_signal_init(loop, h);
  if (r < 0) {
    delete h;
    ThrowErrno(env, "uv_signal_init", -r);
  }
  h->data = this;
  r = uv_signal_start(h, &SignalWatch::OnSignal, signum);
  if (r < 0) {
    h->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(h), DeleteSignalHandle);
    ThrowErrno(env, "uv_signal_start", -r);
  }
  uv_unref(reinterpret_cast<uv_handle_t*>(h));
  handle_ = h;
  callback_ = Napi::Persistent(info[1].As<Napi::Function>());
  Ref();  // the handle points at this object until close()
  holds_ref_ = true;
}

// At worker teardown the finalizer closes the handle, so the loop closes without open handles.
SignalWatch::~SignalWatch() { CloseAll(false); }

Napi::Value SignalWatch::Close(const Napi::CallbackInfo& info) {
  CloseAll(true);
  return info.Env().Undefined();
}

Napi::Value SignalWatch::GetClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), handle_ == nullptr); }

void SignalWatch::CloseAll(bool release_ref) {
  if (handle_ != nullptr) {
    uv_signal_stop(handle_);
    handle_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(handle_), DeleteSignalHandle);
    handle_ = nullptr;
  }
  callback_.Reset();
  if (holds_ref_) {
    if (release_ref) Unref();
    holds_ref_ = false;
  }
}

void SignalWatch::OnSignal(uv_signal_t* handle, int signum) {
  auto* self = static_cast<SignalWatch*>(handle->data);
  if (self == nullptr || self->callback_.IsEmpty()) return;
  // As RawSocket::OnPoll: nothing may escape into libuv (a worker being torn down).
  try {
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    Napi::Object obj = self->Value();
    try {
      self->callback_.MakeCallback(obj.IsEmpty() ? env.Global() : obj, {Napi::Number::New(env, signum)});
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env, e.Value());
    }
  } catch (const Napi::Error&) {
  }
}

}  // namespace vk
