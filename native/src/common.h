// Shared helpers for the vipkeeper native addon: errno -> JS Error, interface
// lookups, address parsing/formatting and a tiny RAII fd holder.
#pragma once

#include <napi.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace vk {

// A JS Error whose message carries the errno name and text, e.g.
// "socket(AF_INET, SOCK_RAW, 112): EPERM (Operation not permitted)",
// with .code = "EPERM", .errno = 1, .syscall = what.
Napi::Error ErrnoError(Napi::Env env, const std::string& what, int err);
[[noreturn]] void ThrowErrno(Napi::Env env, const std::string& what, int err);
[[noreturn]] void ThrowType(Napi::Env env, const std::string& msg);

// Argument helpers; throw TypeError on a wrong type.
std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name);
// Optional string: undefined/null/"" -> empty.
std::string ArgOptString(const Napi::CallbackInfo& info, size_t i, const char* name);
int ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name, int lo, int hi);

// if_nametoindex with a proper error (ENODEV) when the interface is unknown.
unsigned IfIndex(Napi::Env env, const std::string& name);
// if_indextoname; "" when the index is unknown.
std::string IfName(unsigned index);

// SIOCGIFHWADDR via a throwaway AF_INET datagram socket (cheap to close,
// unlike AF_PACKET). Throws unless the interface is Ethernet.
Napi::Buffer<uint8_t> IfMac(Napi::Env env, const std::string& name);

struct SockAddr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&ss); }
  const sockaddr_in* in4() const { return reinterpret_cast<const sockaddr_in*>(&ss); }
  const sockaddr_in6* in6() const { return reinterpret_cast<const sockaddr_in6*>(&ss); }
};

// Parse a numeric address of the given family. IPv6 accepts "addr%ifname" or
// "addr%index" to set the scope id. Throws TypeError when it does not parse.
SockAddr ParseAddr(Napi::Env env, int family, const std::string& text);

std::string FormatAddr(int family, const void* addr);

// Owns a file descriptor; closes it (once) on destruction.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { int f = fd_; fd_ = -1; return f; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);  // close(2) must not be retried on EINTR on Linux
    fd_ = -1;
  }

 private:
  int fd_;
};

}  // namespace vk
