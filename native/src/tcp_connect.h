#pragma once

#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <unordered_map>

namespace vk {

// Non-blocking TCP connects for TCP_CHECK, as keepalived's tcp_check does them: connect, wait
// until the socket is writable, read SO_ERROR. One long-lived TcpConnector per thread runs any
// number of them, named by integer ids, and reports each through one callback(id, errno) (0 =
// connected): no JS object per connect, which — like a net.Socket per check — outlived young
// collections (its weak wrapper) and filled the old generation at thousands of checks a second.
// A connected socket is then closed politely in the background: FIN, anything the server sent
// read and dropped, closed on its FIN or after a grace period, so the kernel has no unread data
// to answer with an RST.
class TcpConnector : public Napi::ObjectWrap<TcpConnector> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit TcpConnector(const Napi::CallbackInfo& info);
  ~TcpConnector() override;

  struct Conn;

 private:
  Napi::Value Connect(const Napi::CallbackInfo& info);
  Napi::Value Cancel(const Napi::CallbackInfo& info);
  Napi::Value GetPending(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  static void OnWritable(uv_poll_t* handle, int status, int events);
  static void OnDrain(uv_poll_t* handle, int status, int events);
  static void OnGrace(uv_timer_t* handle);
  void Report(Conn* c, int err);
  void Finish(Conn* c);

  uv_loop_t* loop_ = nullptr;
  uint32_t next_id_ = 1;
  std::unordered_map<uint32_t, Conn*> pending_;   // connecting: the callback has not run yet
  std::unordered_map<uint32_t, Conn*> draining_;  // reported, closing politely
  bool closed_ = false;
  Napi::FunctionReference callback_;
};

}  // namespace vk
