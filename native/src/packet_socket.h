#pragma once

#include <napi.h>

#include <string>

namespace vk {

// Send-only AF_PACKET SOCK_RAW socket for one interface (gratuitous ARP,
// hand-built NA frames). Bound to protocol 0, so the kernel queues nothing
// for it to receive. Keep one open per interface: closing an AF_PACKET
// socket waits for an RCU grace period (synchronize_net, milliseconds).
class PacketSocket : public Napi::ObjectWrap<PacketSocket> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit PacketSocket(const Napi::CallbackInfo& info);
  ~PacketSocket() override;

 private:
  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value Mac(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetIfname(const Napi::CallbackInfo& info);
  Napi::Value GetClosed(const Napi::CallbackInfo& info);
  void CheckOpen(Napi::Env env) const;

  int fd_ = -1;
  std::string ifname_;
};

}  // namespace vk
