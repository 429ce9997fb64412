// A checker probe's socket options, as keepalived's socket_bind_connect (core/layer4.c) sets them
// before bind and connect: SO_MARK (fwmark), then SO_BINDTODEVICE (bind_if).
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

#include "common.h"

namespace vk {

struct ProbeOpts {
  uint32_t mark = 0;    // 0: not set
  std::string device;   // "": not bound
};

// Arguments i (mark: uint32 | undefined) and i + 1 (device: string | undefined | '').
ProbeOpts ArgProbeOpts(const Napi::CallbackInfo& info, size_t i);

// Applies them to fd: 0, or the errno with `what` naming the call that failed.
int ApplyProbeOpts(int fd, const ProbeOpts& o, std::string* what);

// The local address for bind(): bindHost ("" = any) and bindPort (0 = any).
SockAddr BindAddr(Napi::Env env, int family, const std::string& host, int port);

// probeSocket(family 4|6, udp: boolean, mark, device, bindHost, bindPort) -> fd: a non-blocking,
// close-on-exec TCP or UDP socket with the options set and bound if asked, not connected. The
// caller owns the fd (net.Socket({ fd }) / dgram bind({ fd }) take it over). Throws like the
// system call that failed (.code), the fd closed.
Napi::Value ProbeSocket(const Napi::CallbackInfo& info);

}  // namespace vk
