// V8 heap hints for the calling thread's isolate. Node has no API for them, and the health
// checker's heap otherwise grows to several times its live size before V8 collects it (V8 sizes
// its old-generation limits from the machine's RAM, not from the program).
#include "heap.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "common.h"

namespace vk {

namespace {

bool ParseLevel(const std::string& level, v8::MemoryPressureLevel* out) {
  if (level == "none") *out = v8::MemoryPressureLevel::kNone;
  else if (level == "moderate") *out = v8::MemoryPressureLevel::kModerate;
  else if (level == "critical") *out = v8::MemoryPressureLevel::kCritical;
  else return false;
  return true;
}

// The process's resident set in bytes, from /proc/self/statm (its second field, in pages); 0 if
// it cannot be read.
uint64_t ReadRss() {
  static const long page = ::sysconf(_SC_PAGESIZE);
  int fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[128];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  char* end = nullptr;
  std::strtoull(buf, &end, 10);                     // size
  unsigned long long resident = std::strtoull(end, nullptr, 10);
  return static_cast<uint64_t>(resident) * static_cast<uint64_t>(page);
}

}  // namespace

// memoryPressure('none' | 'moderate' | 'critical'): Isolate::MemoryPressureNotification.
// 'moderate' starts an incremental, memory-reducing mark-compact (concurrent marking, short
// pauses) unless one is running; 'critical' collects at once, several times, and suits a one-off
// after a large transient (it pauses the thread for the whole collection).
Napi::Value MemoryPressure(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string level = ArgString(info, 0, "level");
  v8::MemoryPressureLevel l;
  if (!ParseLevel(level, &l)) ThrowType(env, "level must be 'none', 'moderate' or 'critical', not '" + level + "'");
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  if (isolate != nullptr) isolate->MemoryPressureNotification(l);
  return env.Undefined();
}

Napi::Function HeapWatch::Init(Napi::Env env) {
  return DefineClass(env, "HeapWatch",
                     {
                         InstanceMethod<&HeapWatch::SetLimit>("setLimit"),
                         InstanceMethod<&HeapWatch::SetLevel>("setLevel"),
                         InstanceMethod<&HeapWatch::Close>("close"),
                         InstanceAccessor<&HeapWatch::GetNotifications>("notifications"),
                         InstanceAccessor<&HeapWatch::GetRss>("rss"),
                     });
}

// new HeapWatch(intervalMs 10..10000, cooldownMs 0..600000)
HeapWatch::HeapWatch(const Napi::CallbackInfo& info) : Napi::ObjectWrap<HeapWatch>(info) {
  Napi::Env env = info.Env();
  interval_ms_ = ArgInt(info, 0, "intervalMs", 10, 10000);
  cooldown_ms_ = ArgInt(info, 1, "cooldownMs", 0, 600000);
  isolate_ = v8::Isolate::GetCurrent();
  if (isolate_ == nullptr) ThrowType(env, "HeapWatch needs a JS thread");
  env_ = env;
  rss_ = ReadRss();
  // The thread must be gone before this isolate is: stop it when the environment (the process,
  // or a worker) is torn down, even if close() was never called.
  napi_add_env_cleanup_hook(env_, &HeapWatch::OnEnvCleanup, this);
  hooked_ = true;
  thread_ = std::thread([this] { Run(); });
}

HeapWatch::~HeapWatch() {
  Stop();
  if (hooked_) napi_remove_env_cleanup_hook(env_, &HeapWatch::OnEnvCleanup, this);
}

void HeapWatch::OnEnvCleanup(void* arg) {
  auto* self = static_cast<HeapWatch*>(arg);
  self->hooked_ = false;  // the hook is being run, so it must not be removed again
  self->Stop();
}

void HeapWatch::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void HeapWatch::Run() {
  using Clock = std::chrono::steady_clock;
  Clock::time_point last_notify{};
  bool notified = false;
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    cv_.wait_for(lock, std::chrono::milliseconds(interval_ms_), [this] { return stopping_; });
    if (stopping_) break;
    uint64_t rss = ReadRss();
    rss_ = rss;
    uint64_t limit = limit_;
    if (limit == 0 || rss <= limit) continue;
    Clock::time_point now = Clock::now();
    if (notified && now - last_notify < std::chrono::milliseconds(cooldown_ms_.load())) continue;
    isolate_->MemoryPressureNotification(static_cast<v8::MemoryPressureLevel>(level_.load()));
    notifications_++;
    last_notify = now;
    notified = true;
  }
}

// setLimit(bytes): the RSS above which V8 is asked to collect; 0 turns the watch off.
Napi::Value HeapWatch::SetLimit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) ThrowType(env, "limit must be a number of bytes");
  double v = info[0].As<Napi::Number>().DoubleValue();
  if (!(v >= 0) || v > 9.0e15) ThrowType(env, "limit must be a number of bytes >= 0");
  limit_ = static_cast<uint64_t>(v);
  return env.Undefined();
}

// setLevel('moderate' | 'critical', cooldownMs?): what the notifications say from now on, and
// (if given) the least time between two.
Napi::Value HeapWatch::SetLevel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string level = ArgString(info, 0, "level");
  v8::MemoryPressureLevel l;
  if (!ParseLevel(level, &l) || l == v8::MemoryPressureLevel::kNone) ThrowType(env, "level must be 'moderate' or 'critical', not '" + level + "'");
  if (info.Length() > 1 && !info[1].IsUndefined()) cooldown_ms_ = ArgInt(info, 1, "cooldownMs", 0, 600000);
  level_ = static_cast<int>(l);
  return env.Undefined();
}

Napi::Value HeapWatch::GetNotifications(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), notifications_.load());
}

// The RSS the thread read last (bytes).
Napi::Value HeapWatch::GetRss(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(rss_.load()));
}

Napi::Value HeapWatch::Close(const Napi::CallbackInfo& info) {
  Stop();
  if (hooked_) {
    napi_remove_env_cleanup_hook(env_, &HeapWatch::OnEnvCleanup, this);
    hooked_ = false;
  }
  return info.Env().Undefined();
}

}  // namespace vk
