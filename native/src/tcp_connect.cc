#include "tcp_connect.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common.h"
#include "http_head.h"
#include "probe_socket.h"

namespace vk {

namespace {
// Time to wait for the server's FIN after ours (the JS path's CLOSE_GRACE_MS).
constexpr uint64_t kCloseGraceMs = 250;
// The drain timer runs this much after the earliest expiry, for every drain due by then: one
// wakeup for many closes.
constexpr uint64_t kDrainSlackMs = 50;
constexpr int kBatch = 256;
// One read's size; the shared data array holds at least one.
constexpr size_t kReadMax = 16384;
// 1 (request sent) is not reported: see State(). kHttpOk and kHttpRejected end a plain HTTP_GET.
enum Event { kConnected = 0, kData = 2, kEnd = 3, kError = 4, kHttpOk = 5, kHttpRejected = 6 };
// kLingering: a finished connect, FIN sent, out of the epoll set; read and closed by the drain
// timer. kDraining: a finished exchange, FIN sent, read as data comes, closed on the server's FIN.
enum State { kConnecting, kSending, kReading, kDraining, kLingering, kDead };

}  // namespace

// A target JS registered with target() (one per check spec): the addresses parsed once, and an
// exchange's request. connect() names it by its index, so that a check's call into the addon
// passes two numbers: Buffer arguments cost more in N-API's type checks and lookups than the
// rest of the call. The request is shared with the exchanges in flight (dropTarget may come first).
//
// A plain HTTP_GET (no digest, no regex: JS gave the accepted status ranges) is judged here when
// its response head comes in one read and is plain (PlainJudge, http_head.h): the status against
// the ranges, and the body counted to its Content-Length or to the server's FIN. JS then gets one
// event, not the bytes, and makes no object for the check. Anything else goes to JS as DATA.
struct TcpConnector::Exchange {
  std::string request;
  bool plain = false;
  std::vector<int32_t> ranges;  // [lo, hi, ...]; empty: 200-299
};

struct TcpConnector::TargetEntry {
  bool live = false;
  int family = AF_INET;
  bool bind = false;
  ProbeOpts opts;  // fwmark, bind_if
  SockAddr dst;
  SockAddr src;
  std::shared_ptr<const Exchange> exchange;  // null: connect only
};

struct TcpConnector::Conn {
  uint32_t tag = 0;
  int fd = -1;
  State state = kConnecting;
  bool exchange = false;
  bool pending = false;      // in pending_
  bool in_drain = false;     // in draining_ (freed when it leaves)
  uint64_t drain_until = 0;  // uv_now
  std::shared_ptr<const Exchange> out;  // the exchange's request (and plain HTTP ranges)
  size_t sent = 0;
  bool judging = false;  // a plain HTTP_GET judged here (until a verdict, or handed to JS)
  PlainJudge judge{nullptr};
};

// libuv handles outlive the connector until their close callbacks run.
struct TcpConnector::Handles {
  TcpConnector* owner = nullptr;
  uv_poll_t poll{};
  uv_timer_t timer{};
  int open = 0;
};

namespace {
void OnHandleClosed(uv_handle_t* h) {
  auto* hs = static_cast<TcpConnector::Handles*>(h->data);
  if (--hs->open == 0) delete hs;
}
}  // namespace

Napi::Function TcpConnector::Init(Napi::Env env) {
  return DefineClass(env, "TcpConnector",
                     {
                         InstanceMethod<&TcpConnector::Target>("target"),
                         InstanceMethod<&TcpConnector::DropTarget>("dropTarget"),
                         InstanceMethod<&TcpConnector::Connect>("connect"),
                         InstanceMethod<&TcpConnector::Cancel>("cancel"),
                         InstanceMethod<&TcpConnector::Finish>("finish"),
                         InstanceMethod<&TcpConnector::StateOf>("state"),
                         InstanceMethod<&TcpConnector::Close>("close"),
                         InstanceAccessor<&TcpConnector::GetPending>("pending"),
                     });
}

// new TcpConnector(callback(count), events: Int32Array, data: Uint8Array)
TcpConnector::TcpConnector(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TcpConnector>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsFunction() || !info[1].IsTypedArray() || !info[2].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
      info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    ThrowType(env, "TcpConnector(callback, events: Int32Array, data: Uint8Array)");
  auto events = info[1].As<Napi::Int32Array>();
  auto data = info[2].As<Napi::Uint8Array>();
  if (events.ElementLength() < 4) ThrowType(env, "the events array must hold at least one event (4 elements)");
  if (data.ElementLength() < kReadMax) ThrowType(env, "the data array must hold at least 16384 bytes");
  if (napi_get_uv_event_loop(env, &loop_) != napi_ok || loop_ == nullptr) throw Napi::Error::New(env, "napi_get_uv_event_loop failed");
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) ThrowErrno(env, "epoll_create1", errno);
  auto* hs = new Handles();
  int r = uv_poll_init(loop_, &hs->poll, epfd_);
  if (r < 0) {
    delete hs;
    ::close(epfd_);
    epfd_ = -1;
    ThrowErrno(env, "uv_poll_init", -r);
  }
  uv_timer_init(loop_, &hs->timer);
  hs->owner = this;
  hs->poll.data = hs;
  hs->timer.data = hs;
  hs->open = 2;
  handles_ = hs;
  uv_poll_start(&hs->poll, UV_READABLE, &TcpConnector::OnEpoll);
  uv_unref(reinterpret_cast<uv_handle_t*>(&hs->poll));  // ref'd while events are owed
  uv_unref(reinterpret_cast<uv_handle_t*>(&hs->timer));  // a polite close keeps nothing alive
  callback_ = Napi::Persistent(info[0].As<Napi::Function>());
  events_ref_ = Napi::Persistent(events);
  data_ref_ = Napi::Persistent(data);
  capacity_ = events.ElementLength() / 4;
  data_capacity_ = data.ElementLength();
  Arrays();
}

// The references keep the arrays alive, but JS can still detach their ArrayBuffers (transfer
// them to a worker, structuredClone with transfer), and the memory then belongs to someone else:
// the pointers are looked up again wherever JS may have run since (a batch's start, after each
// callback). An array that no longer holds what it held at construction closes the connector:
// its connections are closed without events (their deadlines end them in JS) and connect()
// says why.
bool TcpConnector::Arrays() {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  Napi::Int32Array events = events_ref_.Value();
  Napi::Uint8Array data = data_ref_.Value();
  events_ = events.Data();
  data_ = data.Data();
  if (events_ != nullptr && data_ != nullptr && events.ElementLength() / 4 >= capacity_ && data.ElementLength() >= data_capacity_) return true;
  events_ = nullptr;
  data_ = nullptr;
  if (!closed_) {
    closed_ = true;
    detached_ = true;
    Shutdown();
  }
  return false;
}

TcpConnector::~TcpConnector() {
  referenced_ = false;  // being finalized: no reference left to drop
  Shutdown();
}

void TcpConnector::Shutdown() {
  // Inside a batch (JS closed it from the callback), this batch's epoll events still point at
  // the Conns: they go to the graveyard, which the batch frees at its end.
  auto release = [this](Conn* c) {
    if (c->fd >= 0) ::close(c->fd);
    c->fd = -1;
    c->state = kDead;
    c->pending = false;
    c->in_drain = false;
    if (in_batch_) graveyard_.push_back(c);
    else delete c;
  };
  for (auto& [tag, c] : pending_)
    if (!c->in_drain) release(c);
  pending_.clear();
  for (Conn* c : draining_) release(c);
  draining_.clear();
  if (!in_batch_) {
    for (Conn* c : graveyard_) delete c;
    graveyard_.clear();
  }
  if (handles_ != nullptr) {
    handles_->owner = nullptr;
    uv_poll_stop(&handles_->poll);
    uv_timer_stop(&handles_->timer);
    uv_close(reinterpret_cast<uv_handle_t*>(&handles_->poll), OnHandleClosed);
    uv_close(reinterpret_cast<uv_handle_t*>(&handles_->timer), OnHandleClosed);
    handles_ = nullptr;
  }
  if (epfd_ >= 0) ::close(epfd_);
  epfd_ = -1;
  if (referenced_) {
    referenced_ = false;
    Unref();
  }
}

// target(family 4|6, host, port, bindHost | '', bindPort | 0, request?: Buffer,
// statusRanges?: Int32Array, mark?: uint32, device?: string) -> id: the parsed addresses (and, for an exchange, the request) for
// connect(id, tag). With statusRanges ([lo, hi, ...]; empty: 200-299) the exchange is a plain
// HTTP_GET (kHttpOk / kHttpRejected). Throws a TypeError for an address that does not parse.
// Held until dropTarget(id).
Napi::Value TcpConnector::Target(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fam = ArgInt(info, 0, "family", 4, 6);
  if (fam != 4 && fam != 6) ThrowType(env, "family must be 4 or 6");
  int family = fam == 4 ? AF_INET : AF_INET6;
  std::string host = ArgString(info, 1, "host");
  int port = ArgInt(info, 2, "port", 1, 65535);
  std::string bind_host = ArgOptString(info, 3, "bindHost");
  int bind_port = ArgInt(info, 4, "bindPort", 0, 65535);
  TargetEntry t;
  t.live = true;
  t.family = family;
  t.dst = ParseAddr(env, family, host);
  if (family == AF_INET) reinterpret_cast<sockaddr_in*>(&t.dst.ss)->sin_port = htons(static_cast<uint16_t>(port));
  else reinterpret_cast<sockaddr_in6*>(&t.dst.ss)->sin6_port = htons(static_cast<uint16_t>(port));
  t.bind = !bind_host.empty() || bind_port != 0;
  if (t.bind) t.src = BindAddr(env, family, bind_host, bind_port);
  t.opts = ArgProbeOpts(info, 7);
  if (info.Length() > 5 && info[5].IsBuffer()) {
    auto b = info[5].As<Napi::Buffer<char>>();
    auto x = std::make_shared<Exchange>();
    x->request.assign(b.Data(), b.Length());
    if (info.Length() > 6 && info[6].IsTypedArray()) {
      auto r = info[6].As<Napi::TypedArray>();
      if (r.TypedArrayType() != napi_int32_array || r.ElementLength() % 2 != 0) ThrowType(env, "statusRanges must be an Int32Array of [lo, hi] pairs");
      auto ri = info[6].As<Napi::Int32Array>();
      x->plain = true;
      x->ranges.assign(ri.Data(), ri.Data() + ri.ElementLength());
    }
    t.exchange = std::move(x);
  }
  uint32_t id;
  if (!free_targets_.empty()) {
    id = free_targets_.back();
    free_targets_.pop_back();
    targets_[id] = std::move(t);
  } else {
    id = static_cast<uint32_t>(targets_.size());
    targets_.push_back(std::move(t));
  }
  return Napi::Number::New(env, id);
}

// dropTarget(id): the target is no longer needed (exchanges in flight keep their request).
Napi::Value TcpConnector::DropTarget(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) ThrowType(env, "dropTarget(id: number)");
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  if (id < targets_.size() && targets_[id].live) {
    targets_[id] = TargetEntry();
    free_targets_.push_back(id);
  }
  return env.Undefined();
}

// connect(target: id from target(), tag: uint32): a connect, or an exchange if the target has a
// request. Throws (with .code) if the socket cannot be made, bound or connected, or if the tag is
// in use; otherwise events follow.
Napi::Value TcpConnector::Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_ && detached_) ThrowErrno(env, "TcpConnector is closed: its events or data array was detached", EBADF);
  if (closed_) ThrowErrno(env, "TcpConnector is closed", EBADF);
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) ThrowType(env, "connect(target: number, tag: number)");
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  if (id >= targets_.size() || !targets_[id].live) ThrowType(env, "target must come from target() (and not be dropped)");
  const TargetEntry& t = targets_[id];
  uint32_t tag = info[1].As<Napi::Number>().Uint32Value();
  if (pending_.find(tag) != pending_.end()) ThrowErrno(env, "connect: tag in use", EEXIST);
  bool exchange = t.exchange != nullptr;

  Fd fd(::socket(t.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) ThrowErrno(env, "socket", errno);
  std::string what;
  if (int err = ApplyProbeOpts(fd.get(), t.opts, &what)) ThrowErrno(env, what, err);
  if (t.bind && ::bind(fd.get(), t.src.sa(), t.src.len) < 0) ThrowErrno(env, "bind", errno);
  // No TCP_NODELAY for an exchange: its request goes out in one write, which Nagle never holds
  // back (nothing is unacknowledged before it).
  int r;
  do {
    r = ::connect(fd.get(), t.dst.sa(), t.dst.len);
  } while (r < 0 && errno == EINTR);
  if (r < 0 && errno != EINPROGRESS) ThrowErrno(env, "connect", errno);

  auto* c = new Conn();
  c->tag = tag;
  c->exchange = exchange;
  if (exchange) {
    c->out = t.exchange;
    if (t.exchange->plain) {
      c->judging = true;
      c->judge = PlainJudge(&t.exchange->ranges);  // c->out keeps the ranges while it judges
    }
  }
  // Connected (or failed) = writable; a failure also sets EPOLLERR, and SO_ERROR says which.
  // A connect-only check is one-shot: no epoll_ctl after it (the fd is disabled until closed).
  // An exchange is registered once for all it will wait for, edge-triggered: writable (the
  // connect, a request larger than the send buffer), readable and the server's FIN, so it needs
  // no epoll_ctl between sending and reading; the handlers read until the socket is empty.
  epoll_event ev{};
  ev.events = exchange ? EPOLLOUT | EPOLLIN | EPOLLRDHUP | EPOLLET : EPOLLOUT | EPOLLONESHOT;
  ev.data.ptr = c;
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd.get(), &ev) < 0) {
    int err = errno;
    delete c;
    ThrowErrno(env, "epoll_ctl", err);
  }
  c->fd = fd.release();
  c->pending = true;
  pending_.emplace(tag, c);
  if (!referenced_) {
    referenced_ = true;
    Ref();  // the JS object stays while it owes events
    uv_ref(reinterpret_cast<uv_handle_t*>(&handles_->poll));
  }
  return env.Undefined();
}

// Abandons a connection that still owes events: closed at once, no more events. Unknown tags
// are ignored.
Napi::Value TcpConnector::Cancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) ThrowType(env, "tag must be a number");
  auto it = pending_.find(info[0].As<Napi::Number>().Uint32Value());
  if (it != pending_.end()) {
    Conn* c = it->second;
    Unpend(c);
    Kill(c);
  }
  return env.Undefined();
}

// Ends an exchange JS has read enough of: no more events; closed politely in the background.
Napi::Value TcpConnector::Finish(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) ThrowType(env, "tag must be a number");
  auto it = pending_.find(info[0].As<Napi::Number>().Uint32Value());
  if (it == pending_.end()) return env.Undefined();
  Conn* c = it->second;
  Unpend(c);
  CloseSoon(c);
  return env.Undefined();
}

void TcpConnector::CloseSoon(Conn* c) {
  if (c->state == kConnecting && !c->exchange && c->fd >= 0) {
    // A finished connect: FIN now; what the server sends meanwhile (a banner) waits in the
    // socket, is read by the drain timer, and the socket closed then, without an RST and without
    // a wakeup for the server's FIN.
    if (::shutdown(c->fd, SHUT_WR) == 0) {
      c->state = kLingering;
      Enqueue(c);
    } else {
      Kill(c);
    }
    return;
  }
  if ((c->state == kSending || c->state == kReading) && c->fd >= 0 && ::shutdown(c->fd, SHUT_WR) == 0) {
    // FIN sent; read and drop until the server's FIN, or until the grace period ends
    bool was_sending = c->state == kSending;
    c->judging = false;
    c->out.reset();
    c->state = kDraining;
    Enqueue(c);
    // Edge-triggered: what came while it was sending raises no new event.
    if (was_sending) Drain(c, 0);
  } else {
    Kill(c);
  }
}

void TcpConnector::Enqueue(Conn* c) {
  c->in_drain = true;
  c->drain_until = uv_now(loop_) + kCloseGraceMs;
  draining_.push_back(c);
  if (draining_.size() == 1) ArmDrainTimer();
}

int TcpConnector::PhaseOf(const Conn* c) {
  if (c->state == kConnecting) return 0;
  if (c->state == kSending) return 1;
  return c->judging && c->judge.in_body() ? 3 : 2;
}

// state(tag) -> 0 connecting, 1 sending the request, 2 reading the response (3: a plain HTTP_GET
// past its head); -1 for a tag that owes no events. Asked only when a deadline hits (for the timeout's text), so that no event per
// exchange says the request went out.
Napi::Value TcpConnector::StateOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) ThrowType(env, "tag must be a number");
  auto it = pending_.find(info[0].As<Napi::Number>().Uint32Value());
  int st = -1;
  if (it != pending_.end()) st = PhaseOf(it->second);
  return Napi::Number::New(env, st);
}

Napi::Value TcpConnector::GetPending(const Napi::CallbackInfo& info) {
  size_t live = pending_.size();
  for (Conn* c : draining_)
    if (c->state != kDead) ++live;
  return Napi::Number::New(info.Env(), static_cast<double>(live));
}

Napi::Value TcpConnector::Close(const Napi::CallbackInfo& info) {
  closed_ = true;
  Shutdown();
  return info.Env().Undefined();
}

void TcpConnector::Unpend(Conn* c) {
  if (!c->pending) return;
  c->pending = false;
  pending_.erase(c->tag);
  if (pending_.empty() && referenced_) {
    referenced_ = false;
    if (handles_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(&handles_->poll));
    Unref();
  }
}

void TcpConnector::Kill(Conn* c) {
  if (c->state == kDead) return;
  if (c->fd >= 0) ::close(c->fd);  // also leaves the epoll set (the fd is never duplicated)
  c->fd = -1;
  c->state = kDead;
  if (c->in_drain) return;  // freed when it leaves draining_
  if (in_batch_) graveyard_.push_back(c);  // its pointer may be in this batch's epoll events
  else delete c;
}

void TcpConnector::Emit(uint32_t tag, int event, int value, int extra) {
  if (epfd_ < 0) return;  // closed (by JS, from the batch's callback): nothing more to report
  if (count_ == capacity_) Flush();
  if (epfd_ < 0) return;
  int32_t* e = events_ + 4 * count_++;
  e[0] = static_cast<int32_t>(tag);
  e[1] = event;
  e[2] = value;
  e[3] = extra;
}

void TcpConnector::Flush() {
  if (epfd_ < 0) {
    count_ = 0;
    data_used_ = 0;
    return;
  }
  if (count_ == 0 || callback_.IsEmpty()) return;
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  Napi::Object self = Value();  // alive through the callback even if it unrefs
  size_t n = count_;
  // JS reads the events during the call; nothing is emitted meanwhile (connect, cancel and
  // finish report nothing synchronously).
  try {
    callback_.MakeCallback(self, {Napi::Number::New(env, static_cast<double>(n))});
  } catch (const Napi::Error& e) {
    napi_fatal_exception(env, e.Value());
  }
  count_ = 0;
  data_used_ = 0;
  if (epfd_ >= 0) Arrays();  // JS ran: the arrays may have been detached (then closed: epfd_ < 0)
}

// As RawSocket::OnPoll: nothing may escape into libuv (a worker being torn down).
void TcpConnector::OnEpoll(uv_poll_t* handle, int /*status*/, int /*events*/) {
  try {
    EpollBatch(handle);
  } catch (const Napi::Error&) {
  }
}

void TcpConnector::OnDrainTimer(uv_timer_t* handle) {
  try {
    DrainExpired(handle);
  } catch (const Napi::Error&) {
  }
}

void TcpConnector::EpollBatch(uv_poll_t* handle) {
  auto* hs = static_cast<Handles*>(handle->data);
  TcpConnector* self = hs->owner;
  if (self == nullptr || self->epfd_ < 0) return;
  Napi::HandleScope scope(self->Env());
  if (!self->Arrays()) return;  // detached since the last batch: closed
  self->in_batch_ = true;
  epoll_event evs[kBatch];
  for (int round = 0; round < 8; ++round) {
    int n = ::epoll_wait(self->epfd_, evs, kBatch, 0);
    if (n <= 0) break;
    for (int i = 0; i < n; ++i) {
      auto* c = static_cast<Conn*>(evs[i].data.ptr);
      if (c->state != kDead) self->Process(c, evs[i].events);
    }
    if (n < kBatch || self->closed_) break;
  }
  self->Flush();
  self->in_batch_ = false;
  for (Conn* c : self->graveyard_) delete c;
  self->graveyard_.clear();
}

namespace {
// The server has sent data or its FIN, or the socket has failed.
constexpr uint32_t kReadable = EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP;
}  // namespace

void TcpConnector::Process(Conn* c, uint32_t events) {
  switch (c->state) {
    case kConnecting: {
      // Still in SYN_SENT an edge may say nothing yet (tcp_poll reports no event there).
      if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
      // Writable without EPOLLERR is a connect that succeeded (tcp_poll sets EPOLLERR whenever
      // sk_err is): SO_ERROR is read only when there is an error to name.
      int err = 0;
      if ((events & (EPOLLERR | EPOLLHUP)) != 0) {
        socklen_t len = sizeof err;
        if (::getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
        if (err == 0 && (events & EPOLLERR) != 0) err = EIO;
      }
      if (err != 0) {
        Emit(c->tag, kError, err);
        Unpend(c);
        Kill(c);
        return;
      }
      if (!c->exchange) {
        // Done, as keepalived's tcp_check is here; but where it closes at once (an RST if the
        // server has sent a banner by then), this closes politely in the background.
        Emit(c->tag, kConnected, 0);
        Unpend(c);
        CloseSoon(c);
        return;
      }
      c->state = kSending;
      SendMore(c);
      // the server may have written first (a banner); edge-triggered, that is not told again
      if (c->state == kReading && (events & kReadable) != 0) ReadSome(c, events);
      return;
    }
    case kSending:
      SendMore(c);
      if (c->state == kReading && (events & kReadable) != 0) ReadSome(c, events);
      return;
    case kReading:
      if ((events & kReadable) != 0) ReadSome(c, events);
      return;
    case kDraining:
      if ((events & kReadable) != 0) Drain(c, events);
      return;
    case kLingering:
    case kDead:
      return;
  }
}

void TcpConnector::SendMore(Conn* c) {
  const std::string& out = c->out->request;
  while (c->sent < out.size()) {
    ssize_t n = ::send(c->fd, out.data() + c->sent, out.size() - c->sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c->sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // more when the send buffer has room: an edge comes then (the socket is marked as short of
    // space by this EAGAIN)
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    Emit(c->tag, kError, n < 0 ? errno : EPIPE, PhaseOf(c));
    Unpend(c);
    Kill(c);
    return;
  }
  if (!c->judging) c->out.reset();  // a plain HTTP_GET still needs its ranges
  c->state = kReading;
}

void TcpConnector::ReadSome(Conn* c, uint32_t events) {
  // The server's FIN had come when the event was taken (and no error): a read that returns less
  // than asked has then reached it (all data before a FIN is queued before the FIN counts), and
  // the read that would return 0 is not needed.
  bool fin = (events & EPOLLRDHUP) != 0 && (events & EPOLLERR) == 0;
  for (int i = 0; i < 16 && c->state == kReading; ++i) {
    // Read straight into the data array JS shares; JS copies each chunk out during the flush.
    // Room for the chunk and its event first, so that the Emit below cannot flush (and reuse
    // the data array) before the chunk's event is in.
    if (data_capacity_ - data_used_ < kReadMax || count_ == capacity_) {
      Flush();  // JS may finish or cancel it, or close the connector
      if (c->state == kDraining) Drain(c, events);  // the rest, which no new edge will tell
      if (c->state != kReading) return;
    }
    ssize_t n = ::read(c->fd, data_ + data_used_, kReadMax);
    if (n > 0) {
      // A short read has emptied the socket (edge-triggered: the next data raises an event).
      bool drained = static_cast<size_t>(n) < kReadMax;
      if (c->judging) {
        if (!PlainResponse(c, static_cast<size_t>(n), drained && fin)) return;  // judged
      } else {
        size_t at = data_used_;
        data_used_ += static_cast<size_t>(n);
        Emit(c->tag, kData, static_cast<int>(at), static_cast<int>(n));
      }
      if (drained) {
        if (fin && c->state == kReading) AtFin(c);
        return;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    // the server closed (or reset): nothing left to be polite about
    if (n == 0) {
      AtFin(c);
      return;
    }
    Emit(c->tag, kError, errno, PhaseOf(c));
    Unpend(c);
    Kill(c);
    return;
  }
  // 16 full reads and maybe more waiting, which no new edge will tell: re-arm, so that epoll
  // reports it again (EPOLL_CTL_MOD rechecks readiness), and other connections get a turn.
  if (c->state == kReading) Rearm(c);
}

void TcpConnector::AtFin(Conn* c) {
  // not plain, or nothing received yet (JS: closed without a response): END
  if (c->judging && c->judge.Fin() == PlainJudge::Verdict::kOk) Emit(c->tag, kHttpOk, c->judge.status(), c->judge.truncated_at());
  else Emit(c->tag, kEnd, 0);
  c->judging = false;
  Unpend(c);
  Kill(c);
}

bool TcpConnector::PlainResponse(Conn* c, size_t n, bool at_fin) {
  const uint8_t* p = data_ + data_used_;  // this read's bytes (the data array's free part)
  switch (c->judge.Read(p, n)) {
    case PlainJudge::Verdict::kNotPlain: {
      // not judged here: JS gets this read and the rest as DATA and parses them
      c->judging = false;
      c->out.reset();
      size_t at = data_used_;
      data_used_ += n;
      Emit(c->tag, kData, static_cast<int>(at), static_cast<int>(n));
      return true;
    }
    case PlainJudge::Verdict::kRejected: {
      // JS makes the failure's text from the status line; closed at once, as JS's cancel would
      size_t at = data_used_;
      data_used_ += c->judge.status_end();
      Emit(c->tag, kHttpRejected, static_cast<int>(at), static_cast<int>(c->judge.status_end()));
      c->judging = false;
      Unpend(c);
      Kill(c);
      return false;
    }
    case PlainJudge::Verdict::kOk:
      return PlainDone(c, at_fin);
    case PlainJudge::Verdict::kMore:
    case PlainJudge::Verdict::kEnd:
      break;
  }
  return true;
}

bool TcpConnector::PlainDone(Conn* c, bool at_fin) {
  Emit(c->tag, kHttpOk, c->judge.status(), c->judge.truncated_at());
  Unpend(c);
  c->judging = false;
  c->out.reset();
  // at the server's FIN with nothing unread: a close is a FIN, no RST; else FIN and drain
  if (at_fin) Kill(c);
  else CloseSoon(c);
  return false;
}

void TcpConnector::Rearm(Conn* c) {
  epoll_event ev{};
  ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = c;
  if (::epoll_ctl(epfd_, EPOLL_CTL_MOD, c->fd, &ev) == 0) return;
  int err = errno;
  if (c->pending) Emit(c->tag, kError, err, PhaseOf(c));
  Unpend(c);
  Kill(c);
}

void TcpConnector::Drain(Conn* c, uint32_t events) {
  bool fin = (events & EPOLLRDHUP) != 0;
  char buf[4096];
  for (int i = 0; i < 64; ++i) {
    ssize_t n = ::read(c->fd, buf, sizeof buf);
    if (n > 0 && static_cast<size_t>(n) < sizeof buf) {
      if (fin) break;  // reached the server's FIN (see ReadSome)
      return;          // empty; the next data or the FIN raises an event
    }
    if (n > 0 || (n < 0 && errno == EINTR)) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    break;  // EOF or an error
  }
  Kill(c);  // done, or a server that will not stop sending; freed when the drain queue reaches it
}

void TcpConnector::ArmDrainTimer() {
  if (handles_ == nullptr || draining_.empty()) return;
  uint64_t now = uv_now(loop_);
  uint64_t at = draining_.front()->drain_until + kDrainSlackMs;
  uv_timer_start(&handles_->timer, &TcpConnector::OnDrainTimer, at > now ? at - now : 0, 0);
}

void TcpConnector::DrainExpired(uv_timer_t* handle) {
  auto* hs = static_cast<Handles*>(handle->data);
  TcpConnector* self = hs->owner;
  if (self == nullptr) return;
  uint64_t now = uv_now(self->loop_);
  // Every drain lasts kCloseGraceMs from its finish, so the queue is in expiry order.
  while (!self->draining_.empty()) {
    Conn* c = self->draining_.front();
    if (c->state != kDead && c->drain_until > now) break;
    self->draining_.pop_front();
    c->in_drain = false;
    if (c->state == kLingering) {
      // whatever the server sent is read first: close() with unread data would send an RST
      char buf[4096];
      for (int i = 0; i < 64; ++i) {
        ssize_t n = ::read(c->fd, buf, sizeof buf);
        if (n > 0 || (n < 0 && errno == EINTR)) continue;
        break;
      }
    }
    if (c->fd >= 0) ::close(c->fd);
    delete c;
  }
  self->ArmDrainTimer();
}

}  // namespace vk
