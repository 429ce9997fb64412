#pragma once

#include <napi.h>
#include <uv.h>

namespace vk {

// A one-shot timer on a timerfd (CLOCK_MONOTONIC), polled by the calling thread's libuv loop.
// libuv timers have millisecond resolution and Node fires them up to ~1.5 ms early or late; a
// timerfd wakes the thread within microseconds, which the VRRP advert and Master_Down timers use.
class PreciseTimer : public Napi::ObjectWrap<PreciseTimer> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit PreciseTimer(const Napi::CallbackInfo& info);
  ~PreciseTimer() override;

 private:
  Napi::Value Arm(const Napi::CallbackInfo& info);
  Napi::Value Disarm(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetClosed(const Napi::CallbackInfo& info);

  void SetTime(Napi::Env env, long long ns);
  void CloseAll(bool release_ref);
  static void OnPoll(uv_poll_t* handle, int status, int events);
  void OnReadable(int status);

  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  bool holds_ref_ = false;
  Napi::FunctionReference callback_;
};

}  // namespace vk
