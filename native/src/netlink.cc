// A netlink socket that only knows how to carry bytes: request/reply transactions
// with the kernel. Every message is built and parsed in TypeScript (src/net/netlink.ts),
// so this file stays small and the codecs stay testable without a kernel.
//
// transact(request) sends the concatenated messages of `request` (each with its own
// sequence number; callers set NLM_F_ACK on non-dump requests) and reads until each
// sequence number has been answered by NLMSG_ERROR (an ACK or an error) or NLMSG_DONE.
// Large requests are sent in chunks of whole messages so the socket buffers never
// overflow (10,000 IPVS destinations fit no single datagram). Replies whose sequence
// number is not part of the transaction (a late ACK of an earlier dump) are dropped.
// A reply datagram larger than the receive buffer is an error (EMSGSIZE), not a wait for
// answers that were cut off with it (recv with MSG_TRUNC reports the datagram's real size);
// so is a reply whose messages do not fit their datagram (EBADMSG).
#include "netlink.h"

#include <linux/netlink.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <string>
#include <vector>

namespace vk {

namespace {

constexpr size_t kChunkBytes = 32 * 1024;

struct Outcome {
  std::vector<uint8_t> data;
  int err = 0;             // errno of a socket failure (not a netlink NLMSG_ERROR)
  std::string syscall;
};

// Runs one transaction on fd; no JS involved, so it can run on a worker thread. `buf` (`buf_len`
// bytes) receives the replies; it need not be initialised.
void Transact(int fd, const uint8_t* req, size_t len, int timeout_ms, size_t chunk_bytes, uint8_t* buf, size_t buf_len, Outcome& out) {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  size_t off = 0;
  while (off < len) {
    // one chunk of whole messages
    size_t end = off;
    std::set<uint32_t> pending;
    while (end < len) {
      if (len - end < sizeof(nlmsghdr)) { out.err = EINVAL; out.syscall = "netlink request: truncated header"; return; }
      nlmsghdr h;
      std::memcpy(&h, req + end, sizeof h);
      size_t mlen = NLMSG_ALIGN(h.nlmsg_len);
      if (h.nlmsg_len < sizeof(nlmsghdr) || end + h.nlmsg_len > len) { out.err = EINVAL; out.syscall = "netlink request: bad nlmsg_len"; return; }
      if (end > off && end + mlen - off > chunk_bytes) break;
      pending.insert(h.nlmsg_seq);
      end += mlen;
      if (end > len) end = len;
    }
    for (;;) {
      ssize_t r = ::sendto(fd, req + off, end - off, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
      if (r >= 0) break;
      if (errno == EINTR) continue;
      out.err = errno; out.syscall = "sendto(netlink)"; return;
    }
    off = end;
    while (!pending.empty()) {
      pollfd p{fd, POLLIN, 0};
      int pr = ::poll(&p, 1, timeout_ms);
      if (pr < 0) { if (errno == EINTR) continue; out.err = errno; out.syscall = "poll(netlink)"; return; }
      if (pr == 0) { out.err = ETIMEDOUT; out.syscall = "netlink reply"; return; }
      // MSG_TRUNC: the datagram's real length, also when it was longer than the buffer (the
      // kernel drops the rest, so whatever answer it carried would never come)
      ssize_t n = ::recv(fd, buf, buf_len, MSG_DONTWAIT | MSG_TRUNC);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        out.err = errno; out.syscall = "recv(netlink)"; return;
      }
      if (static_cast<size_t>(n) > buf_len) {
        out.err = EMSGSIZE;
        out.syscall = "recv(netlink): a reply of " + std::to_string(n) + " bytes does not fit the " + std::to_string(buf_len) + "-byte receive buffer";
        return;
      }
      size_t pos = 0;
      while (pos < static_cast<size_t>(n)) {
        nlmsghdr h;
        if (static_cast<size_t>(n) - pos < sizeof h) {
          out.err = EBADMSG; out.syscall = "recv(netlink): a reply ends inside a message header"; return;
        }
        std::memcpy(&h, buf + pos, sizeof h);
        if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > static_cast<size_t>(n) - pos) {
          out.err = EBADMSG;
          out.syscall = "recv(netlink): a reply message of " + std::to_string(h.nlmsg_len) + " bytes in " + std::to_string(static_cast<size_t>(n) - pos) + " remaining";
          return;
        }
        bool ours = pending.count(h.nlmsg_seq) > 0;
        if (ours) {
          out.data.insert(out.data.end(), buf + pos, buf + pos + h.nlmsg_len);
          // keep the 4-byte alignment the parser expects
          out.data.resize(NLMSG_ALIGN(out.data.size()), 0);
          if (h.nlmsg_type == NLMSG_ERROR || h.nlmsg_type == NLMSG_DONE) pending.erase(h.nlmsg_seq);
        }
        pos += std::min<size_t>(NLMSG_ALIGN(h.nlmsg_len), static_cast<size_t>(n) - pos);
      }
    }
  }
}

class TransactWorker : public Napi::AsyncWorker {
 public:
  // fd is a dup of the socket's, so close() on the JS side cannot pull it from under Execute().
  TransactWorker(Napi::Env env, int fd, std::vector<uint8_t> req, int timeout_ms, size_t chunk_bytes, size_t recv_bytes)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), fd_(fd), req_(std::move(req)), timeout_ms_(timeout_ms), chunk_bytes_(chunk_bytes), recv_bytes_(recv_bytes) {}
  ~TransactWorker() override { fd_.reset(); }
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    std::unique_ptr<uint8_t[]> buf(new uint8_t[recv_bytes_]);
    Transact(fd_.get(), req_.data(), req_.size(), timeout_ms_, chunk_bytes_, buf.get(), recv_bytes_, out_);
  }
  void OnOK() override {
    Napi::Env env = Env();
    // A refused N-API call here means the environment is being torn down (a VRRP worker that
    // died): nobody awaits the promise any more, and a throw would reach libuv and abort.
    try {
      if (out_.err != 0) {
        deferred_.Reject(ErrnoError(env, out_.syscall, out_.err).Value());
        return;
      }
      deferred_.Resolve(Napi::Buffer<uint8_t>::Copy(env, out_.data.data(), out_.data.size()));
    } catch (const Napi::Error&) {
    }
  }

 private:
  Napi::Promise::Deferred deferred_;
  Fd fd_;
  std::vector<uint8_t> req_;
  int timeout_ms_;
  size_t chunk_bytes_;
  size_t recv_bytes_;
  Outcome out_;
};

}  // namespace

Napi::Function NetlinkSocket::Init(Napi::Env env) {
  return DefineClass(env, "NetlinkSocket",
                     {
                         InstanceMethod<&NetlinkSocket::TransactSync>("transact"),
                         InstanceMethod<&NetlinkSocket::TransactAsync>("transactAsync"),
                         InstanceMethod<&NetlinkSocket::Close>("close"),
                         InstanceAccessor<&NetlinkSocket::GetPortId>("portId"),
                         InstanceAccessor<&NetlinkSocket::GetClosed>("closed"),
                     });
}

// new NetlinkSocket(protocol, recvBytes = 256 KiB): NETLINK_ROUTE = 0, NETLINK_GENERIC = 16;
// recvBytes is the largest reply datagram it takes (a larger one fails the transaction).
NetlinkSocket::NetlinkSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NetlinkSocket>(info) {
  Napi::Env env = info.Env();
  int protocol = ArgInt(info, 0, "protocol", 0, 31);
  if (info.Length() > 1 && !info[1].IsUndefined()) recv_bytes_ = static_cast<size_t>(ArgInt(info, 1, "recvBytes", 64, 16 << 20));
  Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol));
  if (fd.get() < 0) ThrowErrno(env, "socket(AF_NETLINK, SOCK_RAW, " + std::to_string(protocol) + ")", errno);
  int one = 1;
  // short ACKs (no copy of the request) and extended error messages
  ::setsockopt(fd.get(), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  ::setsockopt(fd.get(), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  int rcv = 4 * 1024 * 1024;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv) < 0) {
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  }
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) < 0) ThrowErrno(env, "bind(netlink)", errno);
  socklen_t sl = sizeof local;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &sl) < 0) ThrowErrno(env, "getsockname(netlink)", errno);
  port_id_ = local.nl_pid;
  fd_ = fd.release();
}

NetlinkSocket::~NetlinkSocket() {
  if (fd_ >= 0) ::close(fd_);
}

static std::vector<uint8_t> RequestBytes(const Napi::CallbackInfo& info) {
  if (!info[0].IsTypedArray()) ThrowType(info.Env(), "request must be a Buffer or Uint8Array");
  Napi::Uint8Array a = info[0].As<Napi::Uint8Array>();
  return std::vector<uint8_t>(a.Data(), a.Data() + a.ByteLength());
}

static int TimeoutArg(const Napi::CallbackInfo& info) {
  return info.Length() > 1 && !info[1].IsUndefined() ? ArgInt(info, 1, "timeoutMs", 1, 600000) : 5000;
}

// chunkBytes: how many bytes of whole messages go out before their answers are awaited.
// 1 sends one message at a time: the kernel runs one dump per socket and answers a second
// dump that arrives while one runs with EBUSY, even within one sendmsg.
static size_t ChunkArg(const Napi::CallbackInfo& info) {
  return info.Length() > 2 && !info[2].IsUndefined() ? static_cast<size_t>(ArgInt(info, 2, "chunkBytes", 1, 1 << 20)) : kChunkBytes;
}

// transact(request, timeoutMs = 5000, chunkBytes = 32 KiB): Buffer — blocks the calling thread (use for small requests).
Napi::Value NetlinkSocket::TransactSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (fd_ < 0) ThrowErrno(env, "netlink transact on a closed socket", EBADF);
  std::vector<uint8_t> req = RequestBytes(info);
  Outcome out;
  if (!recv_buf_) recv_buf_.reset(new uint8_t[recv_bytes_]);
  Transact(fd_, req.data(), req.size(), TimeoutArg(info), ChunkArg(info), recv_buf_.get(), recv_bytes_, out);
  if (out.err != 0) ThrowErrno(env, out.syscall, out.err);
  return Napi::Buffer<uint8_t>::Copy(env, out.data.data(), out.data.size());
}

// transactAsync(request, timeoutMs = 5000, chunkBytes = 32 KiB): Promise<Buffer> — runs on the libuv pool.
// The caller must not start another transaction on this socket until it settles
// (both would read the same socket).
Napi::Value NetlinkSocket::TransactAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (fd_ < 0) ThrowErrno(env, "netlink transact on a closed socket", EBADF);
  int dupfd = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
  if (dupfd < 0) ThrowErrno(env, "fcntl(F_DUPFD_CLOEXEC, netlink)", errno);
  auto* w = new TransactWorker(env, dupfd, RequestBytes(info), TimeoutArg(info), ChunkArg(info), recv_bytes_);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

Napi::Value NetlinkSocket::Close(const Napi::CallbackInfo& info) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  return info.Env().Undefined();
}

Napi::Value NetlinkSocket::GetPortId(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), port_id_); }
Napi::Value NetlinkSocket::GetClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), fd_ < 0); }

}  // namespace vk
