// ProcEvents: the kernel's process-events connector (NETLINK_CONNECTOR, CN_IDX_PROC), read via
// uv_poll. It only carries datagrams; src/net/proc-events.ts decodes them.
#pragma once

#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <vector>

namespace vk {

class ProcEvents : public Napi::ObjectWrap<ProcEvents> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit ProcEvents(const Napi::CallbackInfo& info);
  ~ProcEvents() override;

 private:
  Napi::Value Listen(const Napi::CallbackInfo& info);
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value SetRcvBuf(const Napi::CallbackInfo& info);
  Napi::Value GetRcvBuf(const Napi::CallbackInfo& info);
  Napi::Value JsRef(const Napi::CallbackInfo& info);
  Napi::Value JsUnref(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetClosed(const Napi::CallbackInfo& info);

  void StopPoll();
  static void OnPoll(uv_poll_t* handle, int status, int events);
  void OnReadable(int status);

  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  bool holds_ref_ = false;
  bool loop_ref_ = true;
  Napi::FunctionReference callback_;
  std::vector<uint8_t> buf_;
};

}  // namespace vk
