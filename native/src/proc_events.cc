// The process-events connector for track_process (keepalived core/track_process.c does the same
// with its own socket). The kernel sends one proc_event per datagram, from port 0, to the
// CN_IDX_PROC group; this file subscribes, receives and hands the datagrams to JS in batches, and
// src/net/proc-events.ts decodes them (so the decoder is testable without a kernel).
//
// new ProcEvents(netnsPath, rcvBufBytes, force): the socket. With a netnsPath (e.g.
// /proc/1/ns/net), the socket is created in that network namespace: the connector exists only in
// the initial one, and a socket keeps the namespace it was created in. The calling thread enters
// the namespace for the socket() call only and returns to its own.
// listen(enable): PROC_CN_MCAST_LISTEN / IGNORE; throws (ECONNREFUSED outside the initial netns).
// start(callback(err, datagrams[])): err is an errno Error (ENOBUFS: events were lost).
#include "proc_events.h"

#include <fcntl.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common.h"

namespace vk {

namespace {

constexpr int kMaxPerWakeup = 256;  // datagrams per loop turn: a fork storm must not starve adverts
constexpr size_t kRecvBufSize = 1024;  // one proc_event datagram is under 100 bytes

void DeletePollHandle(uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); }

int OpenConnector(Napi::Env env, const std::string& netns) {
  int back = -1;
  if (!netns.empty()) {
    Fd target(::open(netns.c_str(), O_RDONLY | O_CLOEXEC));
    if (target.get() < 0) ThrowErrno(env, "open(" + netns + ")", errno);
    back = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (back < 0) ThrowErrno(env, "open(/proc/thread-self/ns/net)", errno);
    if (::setns(target.get(), CLONE_NEWNET) < 0) {
      int e = errno;
      ::close(back);
      ThrowErrno(env, "setns(" + netns + ")", e);
    }
  }
  int fd = ::socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR);
  int socket_errno = errno;
  if (back >= 0) {
    // A thread left in another namespace would send VRRP and program addresses in the wrong
    // one: nothing sane can follow a failed return.
    if (::setns(back, CLONE_NEWNET) < 0) std::abort();
    ::close(back);
  }
  if (fd < 0) ThrowErrno(env, "socket(PF_NETLINK, SOCK_DGRAM, NETLINK_CONNECTOR)", socket_errno);
  Fd sock(fd);
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = CN_IDX_PROC;
  sa.nl_pid = 0;  // the kernel picks a free port id (several sockets may live in one process)
  if (::bind(sock.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) ThrowErrno(env, "bind(NETLINK_CONNECTOR, CN_IDX_PROC)", errno);
  return sock.release();
}

void SetRcv(int fd, int bytes, bool force) {
  if (bytes <= 0) return;
  if (force && ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) == 0) return;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
}

}  // namespace

Napi::Function ProcEvents::Init(Napi::Env env) {
  return DefineClass(env, "ProcEvents",
                     {
                         InstanceMethod<&ProcEvents::Listen>("listen"),
                         InstanceMethod<&ProcEvents::Start>("start"),
                         InstanceMethod<&ProcEvents::SetRcvBuf>("setRcvBuf"),
                         InstanceMethod<&ProcEvents::JsRef>("ref"),
                         InstanceMethod<&ProcEvents::JsUnref>("unref"),
                         InstanceMethod<&ProcEvents::Close>("close"),
                         InstanceAccessor<&ProcEvents::GetRcvBuf>("rcvBuf"),
                         InstanceAccessor<&ProcEvents::GetClosed>("closed"),
                     });
}

ProcEvents::ProcEvents(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProcEvents>(info) {
  Napi::Env env = info.Env();
  std::string netns = ArgOptString(info, 0, "netnsPath");
  int rcv = info.Length() > 1 && !info[1].IsUndefined() ? ArgInt(info, 1, "rcvBufBytes", 0, 0x7fffffff) : 0;
  bool force = info.Length() > 2 && info[2].ToBoolean().Value();
  fd_ = OpenConnector(env, netns);
  SetRcv(fd_, rcv, force);
}

ProcEvents::~ProcEvents() {
  StopPoll();
  if (fd_ >= 0) ::close(fd_);
}

Napi::Value ProcEvents::Listen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (fd_ < 0) ThrowErrno(env, "proc events listen on a closed socket", EBADF);
  bool enable = info.Length() < 1 || info[0].ToBoolean().Value();
  // nlmsghdr + cn_msg + the 4-byte op, packed as the kernel reads it
  uint8_t msg[NLMSG_HDRLEN + sizeof(cn_msg) + sizeof(uint32_t)] = {};
  nlmsghdr nh{};
  nh.nlmsg_len = sizeof msg;
  nh.nlmsg_type = NLMSG_DONE;
  nh.nlmsg_pid = 0;
  std::memcpy(msg, &nh, sizeof nh);
  cn_msg cn{};
  cn.id.idx = CN_IDX_PROC;
  cn.id.val = CN_VAL_PROC;
  cn.len = sizeof(uint32_t);
  std::memcpy(msg + NLMSG_HDRLEN, &cn, sizeof cn);
  uint32_t op = enable ? PROC_CN_MCAST_LISTEN : PROC_CN_MCAST_IGNORE;
  std::memcpy(msg + NLMSG_HDRLEN + sizeof cn, &op, sizeof op);
  for (;;) {
    if (::send(fd_, msg, sizeof msg, 0) >= 0) break;
    if (errno == EINTR) continue;
    ThrowErrno(env, enable ? "send(PROC_CN_MCAST_LISTEN)" : "send(PROC_CN_MCAST_IGNORE)", errno);
  }
  return env.Undefined();
}

Napi::Value ProcEvents::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (fd_ < 0) ThrowErrno(env, "proc events start on a closed socket", EBADF);
  if (info.Length() < 1 || !info[0].IsFunction()) ThrowType(env, "callback must be a function");
  callback_ = Napi::Persistent(info[0].As<Napi::Function>());
  if (poll_ != nullptr) return env.Undefined();
  if (buf_.empty()) buf_.resize(kRecvBufSize);
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) throw Napi::Error::New(env, "napi_get_uv_event_loop failed");
  auto* h = new uv_poll_t;
  int r = uv_poll_init(loop, h, fd_);
  if (r < 0) {
    delete h;
    ThrowErrno(env, "uv_poll_init", -r);
  }
  h->data = this;
  r = uv_poll_start(h, UV_READABLE, &ProcEvents::OnPoll);
  if (r < 0) {
    h->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(h), DeletePollHandle);
    ThrowErrno(env, "uv_poll_start", -r);
  }
  poll_ = h;
  if (!loop_ref_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  if (!holds_ref_) {
    Napi::ObjectWrap<ProcEvents>::Ref();
    holds_ref_ = true;
  }
  return env.Undefined();
}

Napi::Value ProcEvents::SetRcvBuf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (fd_ < 0) ThrowErrno(env, "proc events setRcvBuf on a closed socket", EBADF);
  SetRcv(fd_, ArgInt(info, 0, "bytes", 1, 0x7fffffff), info.Length() > 1 && info[1].ToBoolean().Value());
  return env.Undefined();
}

Napi::Value ProcEvents::GetRcvBuf(const Napi::CallbackInfo& info) {
  int v = 0;
  socklen_t l = sizeof v;
  if (fd_ < 0 || ::getsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &v, &l) < 0) v = 0;
  return Napi::Number::New(info.Env(), v);
}

Napi::Value ProcEvents::JsRef(const Napi::CallbackInfo& info) {
  loop_ref_ = true;
  if (poll_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
  return info.This();
}

Napi::Value ProcEvents::JsUnref(const Napi::CallbackInfo& info) {
  loop_ref_ = false;
  if (poll_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  return info.This();
}

Napi::Value ProcEvents::Close(const Napi::CallbackInfo& info) {
  StopPoll();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  callback_.Reset();
  return info.Env().Undefined();
}

Napi::Value ProcEvents::GetClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), fd_ < 0); }

void ProcEvents::StopPoll() {
  if (poll_ != nullptr) {
    uv_poll_stop(poll_);
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), DeletePollHandle);
    poll_ = nullptr;
  }
  if (holds_ref_) {
    Napi::ObjectWrap<ProcEvents>::Unref();
    holds_ref_ = false;
  }
}

void ProcEvents::OnPoll(uv_poll_t* handle, int status, int /*events*/) {
  auto* self = static_cast<ProcEvents*>(handle->data);
  try {
    if (self != nullptr) self->OnReadable(status);
  } catch (const Napi::Error&) {
  }
}

void ProcEvents::OnReadable(int status) {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  Napi::Object self = Value();
  if (self.IsEmpty() || callback_.IsEmpty()) return;
  auto emit = [&](napi_value err, napi_value data) {
    try {
      callback_.MakeCallback(Value(), {err, data});
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env, e.Value());
    }
  };
  int err = 0;
  if (status < 0) {
    // libuv reports POLLERR as UV_EBADF and stops the handle. On this socket POLLERR is the
    // netlink overrun (ENOBUFS: events were lost): take the error (which clears it), restart
    // the poll and go on reading.
    int so = 0;
    socklen_t sl = sizeof so;
    if (fd_ < 0 || poll_ == nullptr || ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &so, &sl) < 0 || so == 0 ||
        uv_poll_start(poll_, UV_READABLE, &ProcEvents::OnPoll) < 0) {
      emit(ErrnoError(env, "uv_poll", -status).Value(), env.Undefined());
      return;
    }
    err = so;
  }
  Napi::Array batch = Napi::Array::New(env);
  uint32_t n_out = 0;
  for (int i = 0; i < kMaxPerWakeup && fd_ >= 0; ++i) {
    sockaddr_nl from{};
    socklen_t fl = sizeof from;
    ssize_t n = ::recvfrom(fd_, buf_.data(), buf_.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &fl);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
      if (errno == ENOBUFS) continue;  // reported below; the queued events are still worth reading
      break;
    }
    // only the kernel speaks on this group
    if (fl != sizeof from || from.nl_pid != 0) continue;
    batch.Set(n_out++, Napi::Buffer<uint8_t>::Copy(env, buf_.data(), static_cast<size_t>(n)));
  }
  if (n_out > 0) emit(env.Null(), batch);
  if (err != 0 && fd_ >= 0 && !callback_.IsEmpty()) emit(ErrnoError(env, "recvfrom(NETLINK_CONNECTOR)", err).Value(), env.Undefined());
}

}  // namespace vk
