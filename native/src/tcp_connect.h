#pragma once

#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace vk {

// Non-blocking TCP connects for TCP_CHECK, as keepalived's tcp_check does them (connect, wait
// until writable, check for an error, close), and plain-HTTP exchanges for HTTP_GET (connect, send
// the request, judge a plain response here or hand every chunk of it to JS, which parses it).
// One long-lived TcpConnector per thread runs any number of them, named by tags JS chooses.
//
// Why it looks like this (each measured at 1,000–10,000 checks a second):
// - Its own epoll set, watched by libuv through one poll handle on the epoll fd: one epoll_ctl
//   per connect, where a uv_poll_t per socket cost an ioctl and ~8 epoll_ctl calls.
// - Events are batched: they go into an Int32Array JS shares with it ([tag, event, value, extra]
//   per event; value is the errno of ERROR; a DATA chunk is read straight into a Uint8Array JS
//   shares, at offset value, extra bytes long), and JS is called once per epoll batch, not once
//   per event (each call also drains the microtask queue), and no Buffer is made per chunk.
// - A connect that has succeeded, and an exchange JS has read enough of, are closed politely
//   (FIN, what the server still sends read and dropped, closed after a grace period, an
//   exchange on the server's FIN), so no unread data turns into an RST. A connect lingers out of
//   the epoll set (no wakeup for the server's FIN); the drain timer reads and closes many at once.
// - Few system calls: SO_ERROR is read only when epoll reports an error; an exchange is
//   registered once, edge-triggered, for everything it waits for; a read shorter than asked has
//   emptied the socket, and with the server's FIN reported it has reached the end. An HTTP_GET
//   against a server that answers and closes is socket, connect, epoll_ctl, send, read, close.
//
// - A plain HTTP_GET (its target has status ranges: no digest, no regex) is judged here when
//   its response head comes in one read and is plain (http_head.h): one event to JS, no bytes.
//
// Events: CONNECTED (connect-only: final), DATA (a chunk), END (the server closed: final), ERROR
// (errno, and where it was: final), HTTP_OK / HTTP_REJECTED (a plain HTTP_GET judged: final).
// state(tag) says where a connection is (connecting, sending, reading, reading a plain body).
class TcpConnector : public Napi::ObjectWrap<TcpConnector> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit TcpConnector(const Napi::CallbackInfo& info);
  ~TcpConnector() override;

  struct Conn;
  struct Handles;
  struct TargetEntry;
  struct Exchange;

 private:
  Napi::Value Target(const Napi::CallbackInfo& info);
  Napi::Value DropTarget(const Napi::CallbackInfo& info);
  Napi::Value Connect(const Napi::CallbackInfo& info);
  Napi::Value Cancel(const Napi::CallbackInfo& info);
  Napi::Value Finish(const Napi::CallbackInfo& info);
  Napi::Value StateOf(const Napi::CallbackInfo& info);
  Napi::Value GetPending(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  static void OnEpoll(uv_poll_t* handle, int status, int events);
  static void OnDrainTimer(uv_timer_t* handle);
  static void EpollBatch(uv_poll_t* handle);
  static void DrainExpired(uv_timer_t* handle);

  void Process(Conn* c, uint32_t events);
  void SendMore(Conn* c);
  // `events`: the epoll events that woke it (0: none known).
  void ReadSome(Conn* c, uint32_t events);
  void Drain(Conn* c, uint32_t events);
  // Edge-triggered registration again, so that epoll reports what is still readable.
  void Rearm(Conn* c);
  // Where a connection is, as state() and an ERROR's extra say it: 0 connecting, 1 sending the
  // request, 2 reading the response, 3 reading a plain HTTP_GET's body.
  static int PhaseOf(const Conn* c);
  // The server's FIN (nothing unread): END, or a plain HTTP_GET's verdict event. Final.
  void AtFin(Conn* c);
  // A plain HTTP_GET's read of n bytes (at data_ + data_used_, not yet reported): judged here,
  // or handed to JS as DATA. False once the connection has had its final event.
  bool PlainResponse(Conn* c, size_t n, bool at_fin);
  bool PlainDone(Conn* c, bool at_fin);
  void Emit(uint32_t tag, int event, int value, int extra = 0);
  void Flush();
  // Closes the socket; frees the Conn now, after the batch, or when it leaves the drain queue.
  void Kill(Conn* c);
  // FIN now; what the server still sends is read and dropped; closed on its FIN or after the
  // grace period (at once if the FIN cannot be sent).
  void CloseSoon(Conn* c);
  // Into the drain queue (closed by the drain timer after the grace period).
  void Enqueue(Conn* c);
  // No more events for JS (the last one was final, or JS cancelled / finished it).
  void Unpend(Conn* c);
  void ArmDrainTimer();
  void Shutdown();
  // Looks the shared arrays' memory up again; false (and closed) if either was detached.
  bool Arrays();

  uv_loop_t* loop_ = nullptr;
  int epfd_ = -1;
  Handles* handles_ = nullptr;
  bool referenced_ = false;
  bool in_batch_ = false;
  bool closed_ = false;
  bool detached_ = false;  // closed because JS detached a shared array
  std::vector<TargetEntry> targets_;  // by id (target()); dropped ones are reused
  std::vector<uint32_t> free_targets_;
  std::unordered_map<uint32_t, Conn*> pending_;  // by tag: events still owed to JS
  std::deque<Conn*> draining_;                   // closing politely, in finish order
  std::vector<Conn*> graveyard_;                 // dead during a batch; freed after it
  Napi::FunctionReference callback_;
  Napi::Reference<Napi::Int32Array> events_ref_;
  int32_t* events_ = nullptr;
  size_t capacity_ = 0;  // events the array holds
  size_t count_ = 0;     // events written since the last flush
  Napi::Reference<Napi::Uint8Array> data_ref_;
  uint8_t* data_ = nullptr;
  size_t data_capacity_ = 0;
  size_t data_used_ = 0;  // bytes of DATA since the last flush
};

}  // namespace vk
