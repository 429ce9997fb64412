#include "common.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <uv.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace vk {

Napi::Error ErrnoError(Napi::Env env, const std::string& what, int err) {
  char name[64];
  uv_err_name_r(-err, name, sizeof name);  // libuv error codes are -errno on Unix
  std::string msg = what + ": " + name + " (" + std::strerror(err) + ")";
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, name));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, what));
  return e;
}

void ThrowErrno(Napi::Env env, const std::string& what, int err) {
  throw ErrnoError(env, what, err);
}

void ThrowType(Napi::Env env, const std::string& msg) {
  throw Napi::TypeError::New(env, msg);
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsString()) ThrowType(info.Env(), std::string(name) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

std::string ArgOptString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || info[i].IsUndefined() || info[i].IsNull()) return "";
  return ArgString(info, i, name);
}

int ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name, int lo, int hi) {
  if (i >= info.Length() || !info[i].IsNumber()) ThrowType(info.Env(), std::string(name) + " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || d < lo || d > hi) {
    ThrowType(info.Env(), std::string(name) + " must be an integer in [" + std::to_string(lo) + ", " +
                              std::to_string(hi) + "]");
  }
  return static_cast<int>(d);
}

unsigned IfIndex(Napi::Env env, const std::string& name) {
  if (name.empty() || name.size() >= IF_NAMESIZE || name.find('/') != std::string::npos) {
    ThrowErrno(env, "if_nametoindex(" + name + ")", ENODEV);
  }
  unsigned idx = if_nametoindex(name.c_str());
  if (idx == 0) ThrowErrno(env, "if_nametoindex(" + name + ")", errno ? errno : ENODEV);
  return idx;
}

std::string IfName(unsigned index) {
  char buf[IF_NAMESIZE] = {0};
  if (index == 0 || if_indextoname(index, buf) == nullptr) return "";
  return buf;
}

Napi::Buffer<uint8_t> IfMac(Napi::Env env, const std::string& name) {
  ifreq ifr{};
  if (name.empty() || name.size() >= sizeof ifr.ifr_name) ThrowErrno(env, "SIOCGIFHWADDR(" + name + ")", ENODEV);
  std::memcpy(ifr.ifr_name, name.c_str(), name.size() + 1);
  Fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) ThrowErrno(env, "socket(AF_INET, SOCK_DGRAM)", errno);
  if (::ioctl(fd.get(), SIOCGIFHWADDR, &ifr) < 0) ThrowErrno(env, "ioctl(SIOCGIFHWADDR, " + name + ")", errno);
  if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
    throw Napi::Error::New(env, "interface " + name + " is not Ethernet (ARPHRD " +
                                    std::to_string(ifr.ifr_hwaddr.sa_family) + ")");
  }
  return Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(ifr.ifr_hwaddr.sa_data), 6);
}

SockAddr ParseAddr(Napi::Env env, int family, const std::string& text) {
  SockAddr a;
  std::string host = text;
  unsigned scope = 0;
  size_t pct = text.find('%');
  if (pct != std::string::npos) {
    if (family != AF_INET6) ThrowType(env, "invalid IPv4 address: " + text);
    host = text.substr(0, pct);
    std::string zone = text.substr(pct + 1);
    if (!zone.empty() && zone.find_first_not_of("0123456789") == std::string::npos && zone.size() < 10) {
      scope = static_cast<unsigned>(std::strtoul(zone.c_str(), nullptr, 10));
    } else {
      scope = IfIndex(env, zone);
    }
  }
  if (family == AF_INET) {
    auto* s = reinterpret_cast<sockaddr_in*>(&a.ss);
    s->sin_family = AF_INET;
    if (inet_pton(AF_INET, host.c_str(), &s->sin_addr) != 1) ThrowType(env, "invalid IPv4 address: " + text);
    a.len = sizeof(sockaddr_in);
  } else {
    auto* s = reinterpret_cast<sockaddr_in6*>(&a.ss);
    s->sin6_family = AF_INET6;
    if (inet_pton(AF_INET6, host.c_str(), &s->sin6_addr) != 1) ThrowType(env, "invalid IPv6 address: " + text);
    s->sin6_scope_id = scope;
    a.len = sizeof(sockaddr_in6);
  }
  return a;
}

std::string FormatAddr(int family, const void* addr) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (inet_ntop(family, addr, buf, sizeof buf) == nullptr) return "";
  return buf;
}

}  // namespace vk
