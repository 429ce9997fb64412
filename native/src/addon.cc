// vipkeeper native addon: raw IP sockets, AF_PACKET send, netlink transactions,
// a timerfd timer, a per-thread signal watcher, the process-events connector, TCP connects for TCP_CHECK and HTTP_GET, thread
// scheduling, sd_notify and interface name/index helpers. Linux only. N-API (node-addon-api) and
// the libuv loop N-API hands out (napi_get_uv_event_loop); no V8 or Node C++ API.
#include <dlfcn.h>
#include <napi.h>

#include <mutex>

#include "common.h"
#include "http_head.h"
#include "netlink.h"
#include "packet_socket.h"
#include "probe_socket.h"
#include "proc_events.h"
#include "raw_socket.h"
#include "signal_watch.h"
#include "tcp_connect.h"
#include "timer.h"

namespace vk {

Napi::Value SdNotify(const Napi::CallbackInfo& info);  // sd_notify.cc
Napi::Value SetThreadRealtime(const Napi::CallbackInfo& info);  // sched.cc
Napi::Value ThreadId(const Napi::CallbackInfo& info);
Napi::Value ThreadScheduler(const Napi::CallbackInfo& info);

namespace {

Napi::Value JsIfIndex(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::Number::New(env, IfIndex(env, ArgString(info, 0, "ifname")));
}

Napi::Value JsIfName(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int idx = ArgInt(info, 0, "ifindex", 1, 0x7fffffff);
  std::string name = IfName(static_cast<unsigned>(idx));
  if (name.empty()) ThrowErrno(env, "if_indextoname(" + std::to_string(idx) + ")", ENXIO);
  return Napi::String::New(env, name);
}

Napi::Value JsIfMac(const Napi::CallbackInfo& info) {
  return IfMac(info.Env(), ArgString(info, 0, "ifname"));
}

// Keeps this library mapped for the life of the process. Node unloads an addon when the last
// environment that loaded it (e.g. a worker thread) is torn down, but the uv_close callbacks of our
// poll, timer and signal handles run after that, in the worker's final loop turns.
void PinLibrary() {
  static std::once_flag once;
  std::call_once(once, [] {
    Dl_info info{};
    // The handle is deliberately never dlclose'd.
    if (dladdr(reinterpret_cast<void*>(&PinLibrary), &info) != 0 && info.dli_fname != nullptr) dlopen(info.dli_fname, RTLD_NOW | RTLD_NODELETE);
  });
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  PinLibrary();
  exports.Set("RawIpSocket", RawSocket::Init(env));
  exports.Set("PacketSocket", PacketSocket::Init(env));
  exports.Set("sdNotify", Napi::Function::New<SdNotify>(env, "sdNotify"));
  exports.Set("ifIndex", Napi::Function::New<JsIfIndex>(env, "ifIndex"));
  exports.Set("ifName", Napi::Function::New<JsIfName>(env, "ifName"));
  exports.Set("ifMac", Napi::Function::New<JsIfMac>(env, "ifMac"));
  exports.Set("NetlinkSocket", NetlinkSocket::Init(env));
  exports.Set("PreciseTimer", PreciseTimer::Init(env));
  exports.Set("TcpConnector", TcpConnector::Init(env));
  exports.Set("probeSocket", Napi::Function::New<ProbeSocket>(env, "probeSocket"));
  exports.Set("parsePlainHttpHead", Napi::Function::New<JsParsePlainHttpHead>(env, "parsePlainHttpHead"));
  exports.Set("judgePlainHttp", Napi::Function::New<JsJudgePlainHttp>(env, "judgePlainHttp"));
  exports.Set("SignalWatch", SignalWatch::Init(env));
  exports.Set("ProcEvents", ProcEvents::Init(env));
  exports.Set("setThreadRealtime", Napi::Function::New<SetThreadRealtime>(env, "setThreadRealtime"));
  exports.Set("threadId", Napi::Function::New<ThreadId>(env, "threadId"));
  exports.Set("threadScheduler", Napi::Function::New<ThreadScheduler>(env, "threadScheduler"));
  return exports;
}

}  // namespace
}  // namespace vk

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return vk::Init(env, exports); }

NODE_API_MODULE(vipkeeper_native, InitModule)
