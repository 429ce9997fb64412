#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "common.h"

namespace vk {

// sdNotify(socketPath: string, state: string): true
// Sends one datagram to an AF_UNIX SOCK_DGRAM socket: a filesystem path
// ("/run/systemd/notify") or an abstract name ("@name").
Napi::Value SdNotify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ArgString(info, 0, "socketPath");
  std::string state = ArgString(info, 1, "state");
  if (path.empty() || (path[0] != '/' && path[0] != '@')) {
    ThrowType(env, "NOTIFY_SOCKET must be an absolute path or an @abstract name: " + path);
  }
  const bool abstract = path[0] == '@';
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() > sizeof sa.sun_path - (abstract ? 0 : 1)) ThrowErrno(env, "NOTIFY_SOCKET " + path, ENAMETOOLONG);
  std::memcpy(sa.sun_path, path.data(), path.size());
  if (abstract) sa.sun_path[0] = '\0';
  // Abstract names are exactly the given bytes; path names include the NUL.
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (abstract ? 0 : 1));

  Fd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) ThrowErrno(env, "socket(AF_UNIX, SOCK_DGRAM)", errno);
  for (;;) {
    ssize_t r = ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&sa), len);
    if (r >= 0) return Napi::Boolean::New(env, true);
    int e = errno;
    if (e == EINTR) continue;
    ThrowErrno(env, "sendto(NOTIFY_SOCKET " + path + ")", e);
  }
}

}  // namespace vk
