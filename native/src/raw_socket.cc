#include "raw_socket.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "common.h"

#ifndef IP_MULTICAST_ALL
#define IP_MULTICAST_ALL 49
#endif
#ifndef IPV6_MULTICAST_ALL
#define IPV6_MULTICAST_ALL 29
#endif

namespace vk {

namespace {

constexpr int kMaxPerWakeup = 64;  // be fair to the rest of the event loop
constexpr size_t kRecvBufSize = 65536;

void DeletePollHandle(uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); }

}  // namespace

Napi::Function RawSocket::Init(Napi::Env env) {
  return DefineClass(env, "RawIpSocket",
                     {
                         InstanceMethod<&RawSocket::BindToDevice>("bindToDevice"),
                         InstanceMethod<&RawSocket::BindAddress>("bindAddress"),
                         InstanceMethod<&RawSocket::JoinMulticast>("joinMulticast"),
                         InstanceMethod<&RawSocket::LeaveMulticast>("leaveMulticast"),
                         InstanceMethod<&RawSocket::SetMulticastInterface>("setMulticastInterface"),
                         InstanceMethod<&RawSocket::SetMulticastLoop>("setMulticastLoop"),
                         InstanceMethod<&RawSocket::SetMulticastAll>("setMulticastAll"),
                         InstanceMethod<&RawSocket::SetTtl>("setTtl"),
                         InstanceMethod<&RawSocket::SetTos>("setTos"),
                         InstanceMethod<&RawSocket::SetMark>("setMark"),
                         InstanceMethod<&RawSocket::SetChecksumOffset>("setChecksumOffset"),
                         InstanceMethod<&RawSocket::SetIcmp6Filter>("setIcmp6Filter"),
                         InstanceMethod<&RawSocket::Send>("send"),
                         InstanceMethod<&RawSocket::StartReceiving>("startReceiving"),
                         InstanceMethod<&RawSocket::StopReceiving>("stopReceiving"),
                         InstanceMethod<&RawSocket::JsRef>("ref"),
                         InstanceMethod<&RawSocket::JsUnref>("unref"),
                         InstanceMethod<&RawSocket::Close>("close"),
                         InstanceAccessor<&RawSocket::GetFamily>("family"),
                         InstanceAccessor<&RawSocket::GetProtocol>("protocol"),
                         InstanceAccessor<&RawSocket::GetClosed>("closed"),
                     });
}

RawSocket::RawSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RawSocket>(info) {
  Napi::Env env = info.Env();
  int fam = ArgInt(info, 0, "family", 4, 6);
  if (fam != 4 && fam != 6) ThrowType(env, "family must be 4 or 6");
  protocol_ = ArgInt(info, 1, "protocol", 1, 255);
  family_ = fam == 4 ? AF_INET : AF_INET6;

  Fd fd(::socket(family_, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol_));
  if (fd.get() < 0) {
    ThrowErrno(env,
               std::string("socket(") + (fam == 4 ? "AF_INET" : "AF_INET6") + ", SOCK_RAW, " +
                   std::to_string(protocol_) + ")",
               errno);
  }
  fd_ = fd.get();
  try {
    if (family_ == AF_INET) {
      SetInt(env, IPPROTO_IP, IP_PKTINFO, 1, "IP_PKTINFO");
    } else {
      SetInt(env, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO");
      SetInt(env, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1, "IPV6_RECVHOPLIMIT");
      SetInt(env, IPPROTO_IPV6, IPV6_RECVTCLASS, 1, "IPV6_RECVTCLASS");
    }
    // Kernel receive time of each datagram (best effort: without it `ageMs` is 0).
    int on = 1;
    (void)::setsockopt(fd_, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
  } catch (...) {
    fd_ = -1;  // fd's destructor closes it
    throw;
  }
  // Like keepalived: only deliver multicast for groups joined on *this*
  // socket. Best effort (IPV6_MULTICAST_ALL needs Linux >= 4.20).
  int zero = 0;
  if (family_ == AF_INET) {
    setsockopt(fd_, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof zero);
  } else {
    setsockopt(fd_, IPPROTO_IPV6, IPV6_MULTICAST_ALL, &zero, sizeof zero);
  }
  fd.release();
}

RawSocket::~RawSocket() { CloseFd(false); }

void RawSocket::CheckOpen(Napi::Env env) const {
  if (fd_ < 0) ThrowErrno(env, "RawIpSocket is closed", EBADF);
}

void RawSocket::SetOpt(Napi::Env env, int level, int name, const void* val, socklen_t len, const char* what) {
  CheckOpen(env);
  if (setsockopt(fd_, level, name, val, len) < 0) ThrowErrno(env, std::string("setsockopt(") + what + ")", errno);
}

void RawSocket::SetInt(Napi::Env env, int level, int name, int val, const char* what) {
  SetOpt(env, level, name, &val, sizeof val, what);
}

Napi::Value RawSocket::BindToDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string ifname = ArgOptString(info, 0, "ifname");  // "" unbinds
  if (ifname.size() >= IF_NAMESIZE) ThrowErrno(env, "SO_BINDTODEVICE(" + ifname + ")", ENODEV);
  SetOpt(env, SOL_SOCKET, SO_BINDTODEVICE, ifname.c_str(), static_cast<socklen_t>(ifname.size() + 1),
         "SO_BINDTODEVICE");
  return env.Undefined();
}

Napi::Value RawSocket::BindAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  std::string text = ArgString(info, 0, "address");
  SockAddr a = ParseAddr(env, family_, text);
  if (::bind(fd_, a.sa(), a.len) < 0) ThrowErrno(env, "bind(" + text + ")", errno);
  return env.Undefined();
}

void RawSocket::Membership(const Napi::CallbackInfo& info, bool join) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  std::string group = ArgString(info, 0, "group");
  std::string ifname = ArgOptString(info, 1, "ifname");
  SockAddr g = ParseAddr(env, family_, group);
  unsigned idx = ifname.empty() ? 0 : IfIndex(env, ifname);
  if (family_ == AF_INET) {
    if (!IN_MULTICAST(ntohl(g.in4()->sin_addr.s_addr))) ThrowType(env, "not an IPv4 multicast group: " + group);
    ip_mreqn mr{};
    mr.imr_multiaddr = g.in4()->sin_addr;
    mr.imr_ifindex = static_cast<int>(idx);
    SetOpt(env, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &mr, sizeof mr,
           join ? "IP_ADD_MEMBERSHIP" : "IP_DROP_MEMBERSHIP");
  } else {
    if (!IN6_IS_ADDR_MULTICAST(&g.in6()->sin6_addr)) ThrowType(env, "not an IPv6 multicast group: " + group);
    ipv6_mreq mr{};
    mr.ipv6mr_multiaddr = g.in6()->sin6_addr;
    mr.ipv6mr_interface = idx ? idx : g.in6()->sin6_scope_id;
    SetOpt(env, IPPROTO_IPV6, join ? IPV6_ADD_MEMBERSHIP : IPV6_DROP_MEMBERSHIP, &mr, sizeof mr,
           join ? "IPV6_ADD_MEMBERSHIP" : "IPV6_DROP_MEMBERSHIP");
  }
}

Napi::Value RawSocket::JoinMulticast(const Napi::CallbackInfo& info) {
  Membership(info, true);
  return info.Env().Undefined();
}

Napi::Value RawSocket::LeaveMulticast(const Napi::CallbackInfo& info) {
  Membership(info, false);
  return info.Env().Undefined();
}

Napi::Value RawSocket::SetMulticastInterface(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string ifname = ArgOptString(info, 0, "ifname");
  unsigned idx = ifname.empty() ? 0 : IfIndex(env, ifname);
  if (family_ == AF_INET) {
    ip_mreqn mr{};
    mr.imr_ifindex = static_cast<int>(idx);
    SetOpt(env, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof mr, "IP_MULTICAST_IF");
  } else {
    SetInt(env, IPPROTO_IPV6, IPV6_MULTICAST_IF, static_cast<int>(idx), "IPV6_MULTICAST_IF");
  }
  return env.Undefined();
}

Napi::Value RawSocket::SetMulticastLoop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBoolean()) ThrowType(env, "loop must be a boolean");
  int on = info[0].As<Napi::Boolean>().Value() ? 1 : 0;
  if (family_ == AF_INET) {
    SetInt(env, IPPROTO_IP, IP_MULTICAST_LOOP, on, "IP_MULTICAST_LOOP");
  } else {
    SetInt(env, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, on, "IPV6_MULTICAST_LOOP");
  }
  return env.Undefined();
}

Napi::Value RawSocket::SetMulticastAll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBoolean()) ThrowType(env, "all must be a boolean");
  int on = info[0].As<Napi::Boolean>().Value() ? 1 : 0;
  if (family_ == AF_INET) {
    SetInt(env, IPPROTO_IP, IP_MULTICAST_ALL, on, "IP_MULTICAST_ALL");
  } else {
    SetInt(env, IPPROTO_IPV6, IPV6_MULTICAST_ALL, on, "IPV6_MULTICAST_ALL");
  }
  return env.Undefined();
}

Napi::Value RawSocket::SetTtl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int ttl = ArgInt(info, 0, "ttl", 1, 255);
  if (family_ == AF_INET) {
    SetInt(env, IPPROTO_IP, IP_TTL, ttl, "IP_TTL");
    SetInt(env, IPPROTO_IP, IP_MULTICAST_TTL, ttl, "IP_MULTICAST_TTL");
  } else {
    SetInt(env, IPPROTO_IPV6, IPV6_UNICAST_HOPS, ttl, "IPV6_UNICAST_HOPS");
    SetInt(env, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, ttl, "IPV6_MULTICAST_HOPS");
  }
  return env.Undefined();
}

// setMark(mark: uint32): SO_MARK on what it sends (a PING_CHECK's fwmark).
Napi::Value RawSocket::SetMark(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) ThrowType(env, "mark must be a number");
  double d = info[0].As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 4294967295.0) || static_cast<double>(static_cast<uint32_t>(d)) != d) ThrowType(env, "mark must be an integer in [0, 4294967295]");
  uint32_t mark = static_cast<uint32_t>(d);
  SetOpt(env, SOL_SOCKET, SO_MARK, &mark, sizeof mark, "SO_MARK");
  return env.Undefined();
}

Napi::Value RawSocket::SetTos(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int tos = ArgInt(info, 0, "tos", 0, 255);
  if (family_ == AF_INET) {
    SetInt(env, IPPROTO_IP, IP_TOS, tos, "IP_TOS");
  } else {
    SetInt(env, IPPROTO_IPV6, IPV6_TCLASS, tos, "IPV6_TCLASS");
  }
  return env.Undefined();
}

Napi::Value RawSocket::SetChecksumOffset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int off = ArgInt(info, 0, "offset", -1, 65534);
  if (family_ != AF_INET6) ThrowErrno(env, "setsockopt(IPV6_CHECKSUM) on an IPv4 socket", EINVAL);
  SetInt(env, IPPROTO_IPV6, IPV6_CHECKSUM, off, "IPV6_CHECKSUM");
  return env.Undefined();
}

Napi::Value RawSocket::SetIcmp6Filter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (family_ != AF_INET6 || protocol_ != IPPROTO_ICMPV6) {
    ThrowErrno(env, "setsockopt(ICMP6_FILTER) needs an ICMPv6 socket", EINVAL);
  }
  if (info.Length() < 1 || !info[0].IsArray()) ThrowType(env, "types must be an array of ICMPv6 types to pass");
  Napi::Array types = info[0].As<Napi::Array>();
  icmp6_filter f;
  ICMP6_FILTER_SETBLOCKALL(&f);
  for (uint32_t i = 0; i < types.Length(); ++i) {
    Napi::Value v = types.Get(i);
    if (!v.IsNumber()) ThrowType(env, "ICMPv6 types must be numbers");
    int t = v.As<Napi::Number>().Int32Value();
    if (t < 0 || t > 255) ThrowType(env, "ICMPv6 types must be in [0, 255]");
    ICMP6_FILTER_SETPASS(t, &f);
  }
  SetOpt(env, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof f, "ICMP6_FILTER");
  return env.Undefined();
}

namespace {
// One control message holding `v` at the start of `ctrl`; returns the msg_controllen it takes.
template <typename T>
size_t PutCmsg(unsigned char* ctrl, int level, int type, const T& v) {
  cmsghdr* c = reinterpret_cast<cmsghdr*>(ctrl);
  c->cmsg_level = level;
  c->cmsg_type = type;
  c->cmsg_len = CMSG_LEN(sizeof v);
  std::memcpy(CMSG_DATA(c), &v, sizeof v);
  return CMSG_SPACE(sizeof v);
}
}  // namespace

Napi::Value RawSocket::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowType(env, "data must be a Buffer or Uint8Array");
  }
  Napi::Uint8Array data = info[0].As<Napi::Uint8Array>();
  std::string dst_text = ArgString(info, 1, "dst");
  std::string ifname = ArgOptString(info, 2, "ifname");
  std::string src_text = ArgOptString(info, 3, "src");
  SockAddr dst = ParseAddr(env, family_, dst_text);
  SockAddr src;
  if (!src_text.empty()) src = ParseAddr(env, family_, src_text);
  // The device's index is looked up once (if_nametoindex is a socket, an ioctl and a close per
  // call) and again only when a send fails: the device may have been recreated.
  bool cached = !ifname.empty() && ifname == ifname_cache_ && ifindex_cache_ != 0;
  unsigned idx = ifname.empty() ? 0 : cached ? ifindex_cache_ : IfIndex(env, ifname);
  if (!ifname.empty()) {
    ifname_cache_ = ifname;
    ifindex_cache_ = idx;
  }

  for (int attempt = 0;; attempt++) {
    iovec iov{data.Data(), data.ByteLength()};
    msghdr m{};
    m.msg_name = const_cast<sockaddr*>(dst.sa());
    m.msg_namelen = dst.len;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    alignas(cmsghdr) unsigned char ctrl[CMSG_SPACE(sizeof(in6_pktinfo))];
    std::memset(ctrl, 0, sizeof ctrl);
    if (idx != 0 || !src_text.empty()) {
      // Choose the egress interface / source address per packet via *_PKTINFO.
      m.msg_control = ctrl;
      if (family_ == AF_INET) {
        in_pktinfo pi{};
        pi.ipi_ifindex = static_cast<int>(idx);
        if (!src_text.empty()) pi.ipi_spec_dst = src.in4()->sin_addr;
        m.msg_controllen = PutCmsg(ctrl, IPPROTO_IP, IP_PKTINFO, pi);
      } else {
        in6_pktinfo pi{};
        pi.ipi6_ifindex = idx;
        if (!src_text.empty()) pi.ipi6_addr = src.in6()->sin6_addr;
        m.msg_controllen = PutCmsg(ctrl, IPPROTO_IPV6, IPV6_PKTINFO, pi);
      }
    }
    ssize_t r = ::sendmsg(fd_, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r >= 0) return Napi::Boolean::New(env, true);
    int e = errno;
    if (e == EINTR) {
      attempt--;
      continue;
    }
    if (e == EAGAIN || e == EWOULDBLOCK) return Napi::Boolean::New(env, false);
    if (cached && attempt == 0) {
      // A stale index? Look the name up again; retry once if it now has another index.
      unsigned fresh = ::if_nametoindex(ifname.c_str());
      ifindex_cache_ = fresh;
      if (fresh != 0 && fresh != idx) {
        idx = fresh;
        continue;
      }
    }
    ThrowErrno(env, "sendmsg(" + dst_text + (ifname.empty() ? "" : " via " + ifname) + ")", e);
  }
}

Napi::Value RawSocket::StartReceiving(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  if (info.Length() < 1 || !info[0].IsFunction()) ThrowType(env, "callback must be a function");
  callback_ = Napi::Persistent(info[0].As<Napi::Function>());
  if (poll_ != nullptr) return env.Undefined();

  if (buf_.empty()) buf_.resize(kRecvBufSize);
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    throw Napi::Error::New(env, "napi_get_uv_event_loop failed");
  }
  auto* h = new uv_poll_t;
  int r = uv_poll_init(loop, h, fd_);
  if (r < 0) {
    delete h;  // not registered with the loop yet
    ThrowErrno(env, "uv_poll_init", -r);
  }
  h->data = this;
  r = uv_poll_start(h, UV_READABLE, &RawSocket::OnPoll);
  if (r < 0) {
    h->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(h), DeletePollHandle);
    ThrowErrno(env, "uv_poll_start", -r);
  }
  poll_ = h;
  if (!loop_ref_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  if (!holds_ref_) {
    // Keep the JS object (and so this C++ object) alive while it can receive.
    Napi::ObjectWrap<RawSocket>::Ref();
    holds_ref_ = true;
  }
  return env.Undefined();
}

Napi::Value RawSocket::StopReceiving(const Napi::CallbackInfo& info) {
  StopPoll(true);
  callback_.Reset();
  return info.Env().Undefined();
}

Napi::Value RawSocket::JsRef(const Napi::CallbackInfo& info) {
  loop_ref_ = true;
  if (poll_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
  return info.This();
}

Napi::Value RawSocket::JsUnref(const Napi::CallbackInfo& info) {
  loop_ref_ = false;
  if (poll_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  return info.This();
}

Napi::Value RawSocket::Close(const Napi::CallbackInfo& info) {
  CloseFd(true);
  callback_.Reset();
  return info.Env().Undefined();
}

Napi::Value RawSocket::GetFamily(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), family_ == AF_INET ? 4 : 6);
}

Napi::Value RawSocket::GetProtocol(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), protocol_);
}

Napi::Value RawSocket::GetClosed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), fd_ < 0);
}

void RawSocket::StopPoll(bool release_ref) {
  if (poll_ != nullptr) {
    // Stop before the fd is closed; the handle is freed in its close callback.
    uv_poll_stop(poll_);
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), DeletePollHandle);
    poll_ = nullptr;
  }
  if (holds_ref_) {
    if (release_ref) Napi::ObjectWrap<RawSocket>::Unref();
    holds_ref_ = false;
  }
}

void RawSocket::CloseFd(bool release_ref) {
  StopPoll(release_ref);
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void RawSocket::OnPoll(uv_poll_t* handle, int status, int /*events*/) {
  auto* self = static_cast<RawSocket*>(handle->data);
  // An exception escaping a libuv callback would std::terminate the whole process. JS errors are
  // re-raised inside (napi_fatal_exception); what is left can only be a N-API call refused while
  // the environment is torn down (a VRRP worker that died): nothing is delivered then.
  try {
    if (self != nullptr) self->OnReadable(status);
  } catch (const Napi::Error&) {
  }
}

bool RawSocket::Emit(Napi::Env env, napi_value err, napi_value msg) {
  if (callback_.IsEmpty()) return false;
  try {
    callback_.MakeCallback(Value(), {err, msg});
  } catch (const Napi::Error& e) {
    // The JS callback threw: surface it as an uncaught exception, as Node's
    // own handles do.
    napi_fatal_exception(env, e.Value());
  }
  return fd_ >= 0 && poll_ != nullptr;
}

// if_indextoname is a socket, an ioctl and a close: look an index up at most once a second.
const std::string& RawSocket::CachedIfName(unsigned ifindex) {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  if (ifindex != ifname_index_ || now.tv_sec != ifname_at_) {
    ifname_index_ = ifindex;
    ifname_at_ = now.tv_sec;
    ifname_ = ifindex == 0 ? std::string() : IfName(ifindex);
  }
  return ifname_;
}

void RawSocket::OnReadable(int status) {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  Napi::Object self = Value();  // pins the wrapper while JS callbacks run
  if (self.IsEmpty()) return;
  if (status < 0) {
    Emit(env, ErrnoError(env, "uv_poll", -status).Value(), env.Undefined());
    return;
  }
  for (int i = 0; i < kMaxPerWakeup; ++i) {
    if (fd_ < 0 || poll_ == nullptr) return;
    sockaddr_storage from{};
    iovec iov{buf_.data(), buf_.size()};
    alignas(cmsghdr) unsigned char ctrl[512];
    msghdr m{};
    m.msg_name = &from;
    m.msg_namelen = sizeof from;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctrl;
    m.msg_controllen = sizeof ctrl;
    ssize_t n = ::recvmsg(fd_, &m, MSG_DONTWAIT);
    if (n < 0) {
      int e = errno;
      if (e == EINTR) continue;
      if (e == EAGAIN || e == EWOULDBLOCK) return;
      // e.g. an ICMP error reported through sk_err; one-shot, keep draining.
      if (!Emit(env, ErrnoError(env, "recvmsg", e).Value(), env.Undefined())) return;
      continue;
    }

    Napi::HandleScope inner(env);
    const uint8_t* p = buf_.data();
    size_t len = static_cast<size_t>(n);
    const uint8_t* payload = p;
    size_t plen = len;
    std::string src, dst;
    int ttl = -1, tos = -1;
    unsigned ifindex = 0;
    double age_ms = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS && c->cmsg_len >= CMSG_LEN(sizeof(timespec))) {
        timespec rx{};
        std::memcpy(&rx, CMSG_DATA(c), sizeof rx);
        timespec now{};
        ::clock_gettime(CLOCK_REALTIME, &now);
        double age = (static_cast<double>(now.tv_sec - rx.tv_sec) * 1e3) + (static_cast<double>(now.tv_nsec - rx.tv_nsec) / 1e6);
        // a wall-clock step between the two readings gives nonsense: treat it as unknown
        if (age > 0 && age < 1000) age_ms = age;
      }
    }

    if (family_ == AF_INET) {
      // Raw IPv4 sockets deliver the IP header in front of the payload.
      if (len < 20 || (p[0] >> 4) != 4) continue;
      size_t ihl = static_cast<size_t>(p[0] & 0x0f) * 4;
      if (ihl < 20 || ihl > len) continue;
      tos = p[1];
      ttl = p[8];
      src = FormatAddr(AF_INET, p + 12);
      dst = FormatAddr(AF_INET, p + 16);
      payload = p + ihl;
      plen = len - ihl;
      for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO && c->cmsg_len >= CMSG_LEN(sizeof(in_pktinfo))) {
          in_pktinfo pi;
          std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
          ifindex = static_cast<unsigned>(pi.ipi_ifindex);
        }
      }
    } else {
      if (from.ss_family == AF_INET6) {
        src = FormatAddr(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&from)->sin6_addr);
      }
      for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != IPPROTO_IPV6) continue;
        if (c->cmsg_type == IPV6_PKTINFO && c->cmsg_len >= CMSG_LEN(sizeof(in6_pktinfo))) {
          in6_pktinfo pi;
          std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
          dst = FormatAddr(AF_INET6, &pi.ipi6_addr);
          ifindex = pi.ipi6_ifindex;
        } else if (c->cmsg_type == IPV6_HOPLIMIT && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
          std::memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
        } else if (c->cmsg_type == IPV6_TCLASS && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
          std::memcpy(&tos, CMSG_DATA(c), sizeof tos);
        }
      }
    }

    Napi::Object msg = Napi::Object::New(env);
    msg.Set("data", Napi::Buffer<uint8_t>::Copy(env, payload, plen));
    msg.Set("family", Napi::Number::New(env, family_ == AF_INET ? 4 : 6));
    msg.Set("src", Napi::String::New(env, src));
    msg.Set("dst", Napi::String::New(env, dst));
    msg.Set("ttl", Napi::Number::New(env, ttl));
    if (family_ == AF_INET6) msg.Set("hopLimit", Napi::Number::New(env, ttl));
    msg.Set("tos", Napi::Number::New(env, tos));
    msg.Set("ifindex", Napi::Number::New(env, ifindex));
    msg.Set("ifname", Napi::String::New(env, CachedIfName(ifindex)));
    msg.Set("ageMs", Napi::Number::New(env, age_ms));
    msg.Set("truncated", Napi::Boolean::New(env, (m.msg_flags & MSG_TRUNC) != 0));
    if (!Emit(env, env.Null(), msg)) return;
  }
}

}  // namespace vk
