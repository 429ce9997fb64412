// NetlinkSocket: a bound AF_NETLINK socket doing request/reply transactions with the kernel.
#pragma once

#include <napi.h>

#include <memory>

#include <cstdint>

#include "common.h"

namespace vk {

class NetlinkSocket : public Napi::ObjectWrap<NetlinkSocket> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit NetlinkSocket(const Napi::CallbackInfo& info);
  ~NetlinkSocket() override;

 private:
  Napi::Value TransactSync(const Napi::CallbackInfo& info);
  Napi::Value TransactAsync(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetPortId(const Napi::CallbackInfo& info);
  Napi::Value GetClosed(const Napi::CallbackInfo& info);

  int fd_ = -1;
  uint32_t port_id_ = 0;
  size_t recv_bytes_ = 256 * 1024;  // the largest reply datagram taken
  // The synchronous path's receive buffer, allocated on first use and kept: a fresh 256 KiB
  // zeroed buffer per transaction (mmap, 64 page faults, munmap with TLB-shootdown IPIs) made
  // the VRRP thread's first VIP add ~1 ms slower than keepalived's.
  std::unique_ptr<uint8_t[]> recv_buf_;
};

}  // namespace vk
