#pragma once

#include <napi.h>

#include <string>
#include <uv.h>

#include <cstdint>
#include <vector>

namespace vk {

// AF_INET / AF_INET6 SOCK_RAW socket for one IP protocol, read via uv_poll.
class RawSocket : public Napi::ObjectWrap<RawSocket> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit RawSocket(const Napi::CallbackInfo& info);
  ~RawSocket() override;

 private:
  Napi::Value BindToDevice(const Napi::CallbackInfo& info);
  Napi::Value BindAddress(const Napi::CallbackInfo& info);
  Napi::Value JoinMulticast(const Napi::CallbackInfo& info);
  Napi::Value LeaveMulticast(const Napi::CallbackInfo& info);
  Napi::Value SetMulticastInterface(const Napi::CallbackInfo& info);
  Napi::Value SetMulticastLoop(const Napi::CallbackInfo& info);
  Napi::Value SetMulticastAll(const Napi::CallbackInfo& info);
  Napi::Value SetTtl(const Napi::CallbackInfo& info);
  Napi::Value SetTos(const Napi::CallbackInfo& info);
  Napi::Value SetMark(const Napi::CallbackInfo& info);
  Napi::Value SetChecksumOffset(const Napi::CallbackInfo& info);
  Napi::Value SetIcmp6Filter(const Napi::CallbackInfo& info);
  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value StartReceiving(const Napi::CallbackInfo& info);
  Napi::Value StopReceiving(const Napi::CallbackInfo& info);
  Napi::Value JsRef(const Napi::CallbackInfo& info);
  Napi::Value JsUnref(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetFamily(const Napi::CallbackInfo& info);
  Napi::Value GetProtocol(const Napi::CallbackInfo& info);
  Napi::Value GetClosed(const Napi::CallbackInfo& info);

  void CheckOpen(Napi::Env env) const;
  std::string ifname_cache_;
  unsigned ifindex_cache_ = 0;
  const std::string& CachedIfName(unsigned ifindex);
  std::string ifname_;
  unsigned ifname_index_ = 0;
  long ifname_at_ = -1;
  void SetOpt(Napi::Env env, int level, int name, const void* val, socklen_t len, const char* what);
  void SetInt(Napi::Env env, int level, int name, int val, const char* what);
  void Membership(const Napi::CallbackInfo& info, bool join);
  void StopPoll(bool release_ref);
  void CloseFd(bool release_ref);
  static void OnPoll(uv_poll_t* handle, int status, int events);
  void OnReadable(int status);
  // Returns false when the callback closed or stopped the socket.
  bool Emit(Napi::Env env, napi_value err, napi_value msg);

  int fd_ = -1;
  int family_ = 0;  // AF_INET / AF_INET6
  int protocol_ = 0;
  uv_poll_t* poll_ = nullptr;
  bool holds_ref_ = false;  // JS object pinned while polling
  bool loop_ref_ = true;    // whether the poll handle keeps the loop alive
  Napi::FunctionReference callback_;
  std::vector<uint8_t> buf_;
};

}  // namespace vk
