#pragma once

#include <napi.h>
#include <uv.h>

namespace vk {

// One non-blocking TCP connect for TCP_CHECK, as keepalived's tcp_check does it: connect,
// wait until the socket is writable, read SO_ERROR. The callback gets the errno (0 =
// connected). A connected socket is then closed politely in the background: FIN, anything the
// server sent read and dropped, closed on its FIN or after a grace period, so the kernel has no
// unread data to answer with an RST. A net.Socket per check costs far more CPU and heap than
// the check itself.
class TcpConnect : public Napi::ObjectWrap<TcpConnect> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit TcpConnect(const Napi::CallbackInfo& info);
  ~TcpConnect() override;

 private:
  Napi::Value Cancel(const Napi::CallbackInfo& info);
  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnDrain(uv_poll_t* handle, int status, int events);
  static void OnGrace(uv_timer_t* handle);
  void Done(int err);
  bool StartDrain();
  void Release();

  int fd_ = -1;
  bool reported_ = false;  // the callback has run: cancel() no longer cuts the drain short
  uv_poll_t* poll_ = nullptr;
  uv_timer_t* grace_ = nullptr;
  bool holds_ref_ = false;
  Napi::FunctionReference callback_;
};

}  // namespace vk
