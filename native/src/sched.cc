// Scheduling for the calling thread: the VRRP worker asks for SCHED_RR so that a busy
// main thread (health checks, reconciles, GC) cannot delay an advert, as keepalived's
// vrrp_rt_priority does for its VRRP child. On Linux, pid 0 means the calling thread.
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "common.h"

namespace vk {

// setThreadRealtime(priority 1..99): SCHED_RR for the calling thread; 0 restores SCHED_OTHER.
Napi::Value SetThreadRealtime(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int prio = ArgInt(info, 0, "priority", 0, 99);
  sched_param sp{};
  sp.sched_priority = prio;
  // SCHED_RESET_ON_FORK: children (notify scripts) must not inherit real-time priority
  int policy = (prio == 0 ? SCHED_OTHER : SCHED_RR) | SCHED_RESET_ON_FORK;
  if (::sched_setscheduler(0, policy, &sp) < 0) {
    ThrowErrno(env, "sched_setscheduler(SCHED_RR, " + std::to_string(prio) + ")", errno);
  }
  return env.Undefined();
}

// threadId(): the kernel thread id (gettid) of the calling thread.
Napi::Value ThreadId(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(::syscall(SYS_gettid)));
}

// threadScheduler(): { policy, priority } of the calling thread.
Napi::Value ThreadScheduler(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int policy = ::sched_getscheduler(0);
  if (policy < 0) ThrowErrno(env, "sched_getscheduler", errno);
  sched_param sp{};
  ::sched_getparam(0, &sp);
  Napi::Object o = Napi::Object::New(env);
  policy &= ~SCHED_RESET_ON_FORK;
  o.Set("policy", Napi::String::New(env, policy == SCHED_RR ? "rr" : policy == SCHED_FIFO ? "fifo" : "other"));
  o.Set("priority", Napi::Number::New(env, sp.sched_priority));
  return o;
}

}  // namespace vk
