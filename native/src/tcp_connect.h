#pragma once

#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <unordered_map>

namespace vk {

// Non-blocking TCP connects for TCP_CHECK, as keepalived's tcp_check does them (connect, wait
// until writable, read SO_ERROR), and plain-HTTP exchanges for HTTP_GET (connect, send the
// request, hand every chunk of the response to JS, which parses it). One long-lived TcpConnector
// per thread runs any number of them, named by integer ids, and reports through one
// callback(id, event, errno, data): no JS object per check, which — like a net.Socket per
// check — outlived young collections and filled the old generation at thousands a second.
//
// Events: CONNECTED (connect-only: final), SENT (exchange: the request is out), DATA (a chunk),
// END (the server closed: final), ERROR (errno: final). A finished connection is closed politely
// in the background (FIN, anything the server still sends read and dropped, closed on its FIN or
// after a grace period), so the kernel has no unread data to answer with an RST.
class TcpConnector : public Napi::ObjectWrap<TcpConnector> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit TcpConnector(const Napi::CallbackInfo& info);
  ~TcpConnector() override;

  struct Conn;

 private:
  Napi::Value Connect(const Napi::CallbackInfo& info);
  Napi::Value Cancel(const Napi::CallbackInfo& info);
  Napi::Value Finish(const Napi::CallbackInfo& info);
  Napi::Value GetPending(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  static void OnWritable(uv_poll_t* handle, int status, int events);
  static void OnReadable(uv_poll_t* handle, int status, int events);
  static void OnDrain(uv_poll_t* handle, int status, int events);
  static void OnGrace(uv_timer_t* handle);
  // Sends what is left of the request; false on an error (reported).
  bool SendMore(Conn* c);
  // Emits one event; returns false if the callback ended the connection (cancel / finish).
  bool Emit(Conn* c, int event, int err, const char* data, size_t len);
  // Ends a connection that owes no more events: polite close, or at once (abort).
  void Retire(Conn* c, bool polite);
  void DrainDone(Conn* c);

  uv_loop_t* loop_ = nullptr;
  uint32_t next_id_ = 1;
  std::unordered_map<uint32_t, Conn*> pending_;   // events still owed to JS
  std::unordered_map<uint32_t, Conn*> draining_;  // done, closing politely
  bool closed_ = false;
  Napi::FunctionReference callback_;
};

}  // namespace vk
