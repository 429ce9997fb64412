#pragma once

#include <napi.h>
#include <v8.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace vk {

// A watcher thread for the calling thread's V8 heap: every interval it reads the process's RSS
// (/proc/self/statm) and, when the RSS is over the limit JS set, sends V8 a memory pressure
// notification, at most once per cooldown: 'moderate' (an incremental, memory-reducing
// mark-compact) or, for a start-up or reload burst that would outrun incremental marking,
// 'critical' (full collections at once, on the JS thread's next interrupt check). From a thread
// of its own because the growth that matters most happens inside long synchronous JS (loading a
// 10,000-server config), when no JS timer can run; V8 allows this one call from another thread.
class HeapWatch : public Napi::ObjectWrap<HeapWatch> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit HeapWatch(const Napi::CallbackInfo& info);
  ~HeapWatch() override;

 private:
  Napi::Value SetLimit(const Napi::CallbackInfo& info);
  Napi::Value SetLevel(const Napi::CallbackInfo& info);
  Napi::Value GetNotifications(const Napi::CallbackInfo& info);
  Napi::Value GetRss(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  void Run();
  void Stop();
  static void OnEnvCleanup(void* arg);

  v8::Isolate* isolate_ = nullptr;
  napi_env env_ = nullptr;
  int interval_ms_ = 100;
  std::atomic<int> cooldown_ms_{1000};
  std::atomic<uint64_t> limit_{0};
  std::atomic<int> level_{static_cast<int>(v8::MemoryPressureLevel::kModerate)};
  std::atomic<uint64_t> rss_{0};
  std::atomic<uint32_t> notifications_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool hooked_ = false;
  std::thread thread_;
};

}  // namespace vk
