#include "probe_socket.h"

#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cmath>

namespace vk {

ProbeOpts ArgProbeOpts(const Napi::CallbackInfo& info, size_t i) {
  Napi::Env env = info.Env();
  ProbeOpts o;
  if (i < info.Length() && !info[i].IsUndefined() && !info[i].IsNull()) {
    if (!info[i].IsNumber()) ThrowType(env, "mark must be a number");
    double d = info[i].As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || std::floor(d) != d || d < 0 || d > 4294967295.0) ThrowType(env, "mark must be an integer in [0, 4294967295]");
    o.mark = static_cast<uint32_t>(d);
  }
  o.device = ArgOptString(info, i + 1, "device");
  // an over-long name would be truncated by the kernel into another interface's name
  if (o.device.size() >= IF_NAMESIZE) ThrowErrno(env, "SO_BINDTODEVICE(" + o.device + ")", ENODEV);
  return o;
}

int ApplyProbeOpts(int fd, const ProbeOpts& o, std::string* what) {
  if (o.mark != 0 && ::setsockopt(fd, SOL_SOCKET, SO_MARK, &o.mark, sizeof o.mark) < 0) {
    *what = "setsockopt(SO_MARK " + std::to_string(o.mark) + ")";
    return errno;
  }
  if (!o.device.empty() &&
      ::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, o.device.c_str(), static_cast<socklen_t>(o.device.size() + 1)) < 0) {
    *what = "setsockopt(SO_BINDTODEVICE " + o.device + ")";
    return errno;
  }
  return 0;
}

SockAddr BindAddr(Napi::Env env, int family, const std::string& host, int port) {
  SockAddr a;
  if (!host.empty()) {
    a = ParseAddr(env, family, host);
  } else {
    a.ss.ss_family = static_cast<sa_family_t>(family);
    a.len = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  }
  if (family == AF_INET) reinterpret_cast<sockaddr_in*>(&a.ss)->sin_port = htons(static_cast<uint16_t>(port));
  else reinterpret_cast<sockaddr_in6*>(&a.ss)->sin6_port = htons(static_cast<uint16_t>(port));
  return a;
}

Napi::Value ProbeSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fam = ArgInt(info, 0, "family", 4, 6);
  if (fam != 4 && fam != 6) ThrowType(env, "family must be 4 or 6");
  int family = fam == 4 ? AF_INET : AF_INET6;
  if (info.Length() < 2 || !info[1].IsBoolean()) ThrowType(env, "udp must be a boolean");
  bool udp = info[1].As<Napi::Boolean>().Value();
  ProbeOpts o = ArgProbeOpts(info, 2);
  std::string bind_host = ArgOptString(info, 4, "bindHost");
  int bind_port = info.Length() > 5 && !info[5].IsUndefined() ? ArgInt(info, 5, "bindPort", 0, 65535) : 0;
  SockAddr src;
  bool bind = !bind_host.empty() || bind_port != 0;
  if (bind) src = BindAddr(env, family, bind_host, bind_port);  // a TypeError before any fd exists

  Fd fd(::socket(family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) ThrowErrno(env, "socket", errno);
  std::string what;
  if (int err = ApplyProbeOpts(fd.get(), o, &what)) ThrowErrno(env, what, err);
  if (bind && ::bind(fd.get(), src.sa(), src.len) < 0) ThrowErrno(env, "bind", errno);
  return Napi::Number::New(env, fd.release());
}

}  // namespace vk
