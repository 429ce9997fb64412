#pragma once

#include <napi.h>
#include <uv.h>

namespace vk {

// A libuv signal watcher on the CALLING thread's loop. Node delivers signals to the main thread
// only (process.on('SIGTERM') is not available in a worker); libuv itself wakes every loop that
// has a uv_signal_t for the signal, so a worker can hear SIGTERM directly, without the main
// thread's wake-up and postMessage hop. Unref'd: it never keeps the loop alive.
class SignalWatch : public Napi::ObjectWrap<SignalWatch> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit SignalWatch(const Napi::CallbackInfo& info);
  ~SignalWatch() override;

 private:
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetClosed(const Napi::CallbackInfo& info);

  void CloseAll(bool release_ref);
  static void OnSignal(uv_signal_t* handle, int signum);

  uv_signal_t* handle_ = nullptr;
  bool holds_ref_ = false;
  Napi::FunctionReference callback_;
};

}  // namespace vk
