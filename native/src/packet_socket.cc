#include "packet_socket.h"

#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common.h"

namespace vk {

Napi::Function PacketSocket::Init(Napi::Env env) {
  return DefineClass(env, "PacketSocket",
                     {
                         InstanceMethod<&PacketSocket::Send>("send"),
                         InstanceMethod<&PacketSocket::Mac>("mac"),
                         InstanceMethod<&PacketSocket::Close>("close"),
                         InstanceAccessor<&PacketSocket::GetIfname>("ifname"),
                         InstanceAccessor<&PacketSocket::GetClosed>("closed"),
                     });
}

PacketSocket::PacketSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PacketSocket>(info) {
  Napi::Env env = info.Env();
  ifname_ = ArgString(info, 0, "ifname");
  IfIndex(env, ifname_);  // fail early with ENODEV
  // Protocol 0: no packet is ever delivered to this socket.
  int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(env, "socket(AF_PACKET, SOCK_RAW)", errno);
  fd_ = fd;
}

PacketSocket::~PacketSocket() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void PacketSocket::CheckOpen(Napi::Env env) const {
  if (fd_ < 0) ThrowErrno(env, "PacketSocket is closed", EBADF);
}

Napi::Value PacketSocket::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowType(env, "frame must be a Buffer or Uint8Array");
  }
  Napi::Uint8Array frame = info[0].As<Napi::Uint8Array>();
  const uint8_t* p = frame.Data();
  size_t len = frame.ByteLength();
  if (len < ETH_HLEN) ThrowType(env, "frame is shorter than an Ethernet header");

  // The interface is looked up per send, so a re-created interface (VMAC) works.
  sockaddr_ll ll{};
  ll.sll_family = AF_PACKET;
  ll.sll_ifindex = static_cast<int>(IfIndex(env, ifname_));
  std::memcpy(&ll.sll_protocol, p + 12, 2);  // ethertype, already network order
  ll.sll_halen = ETH_ALEN;
  std::memcpy(ll.sll_addr, p, ETH_ALEN);
  for (;;) {
    ssize_t r = ::sendto(fd_, p, len, MSG_DONTWAIT | MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&ll), sizeof ll);
    if (r >= 0) return Napi::Boolean::New(env, true);
    int e = errno;
    if (e == EINTR) continue;
    if (e == EAGAIN || e == EWOULDBLOCK) return Napi::Boolean::New(env, false);
    ThrowErrno(env, "sendto(AF_PACKET " + ifname_ + ")", e);
  }
}

Napi::Value PacketSocket::Mac(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  return IfMac(env, ifname_);
}

Napi::Value PacketSocket::Close(const Napi::CallbackInfo& info) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  return info.Env().Undefined();
}

Napi::Value PacketSocket::GetIfname(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), ifname_);
}

Napi::Value PacketSocket::GetClosed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), fd_ < 0);
}

}  // namespace vk
