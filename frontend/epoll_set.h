// The connections' sockets, watched in one epoll set that one libuv handle watches in turn: a
// connection then needs no libuv handle of its own (a uv_tcp_t is 248 bytes, a uv_poll_t 160;
// docs/architecture.md "Memory per connection"). Level-triggered, like libuv. Also the table of
// connections by fd, for the rare events that reach them all (shutdown, kick).
#pragma once

#include <uv.h>

#include <cstdint>
#include <vector>

namespace webim {

class Connection;

class EpollSet {
 public:
  EpollSet() = default;
  EpollSet(const EpollSet&) = delete;
  EpollSet& operator=(const EpollSet&) = delete;

  // Creates the set and watches it on `loop`; each event goes to Connection::onEvents. Throws
  // std::runtime_error.
  void open(uv_loop_t* loop);
  // A new socket, readable only. False (errno set) when it cannot be watched.
  bool add(Connection* connection, int fd);
  // Readable always; writable too while `writable` (a backlog waits for the socket to drain).
  void watch(Connection* connection, int fd, bool writable);
  // The socket leaves the set (before its fd is closed and may be reused).
  void remove(Connection* connection, int fd);
  // Every connection in the set.
  std::vector<Connection*> all() const;
  // The fds of every connection in the set, and the connection on one (nullptr if none).
  std::vector<int> fds() const;
  Connection* find(int fd) const noexcept {
    return fd >= 0 && static_cast<size_t>(fd) < byFd_.size() ? byFd_[static_cast<size_t>(fd)] : nullptr;
  }
  // Stops watching and closes the set (the end of a shutdown).
  void close();

 private:
  static void onReadable(uv_poll_t* handle, int status, int events);

  int epollFd_ = -1;
  uv_poll_t handle_{};                 // watches epollFd_
  std::vector<Connection*> byFd_;      // live connections by socket fd
};

}  // namespace webim
