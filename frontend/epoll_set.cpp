#include "frontend/epoll_set.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <string>

#include "frontend/connection.h"

namespace webim {

namespace {
constexpr int kEpollBatch = 512;  // connection events handled per wakeup
}  // namespace

void EpollSet::open(uv_loop_t* loop) {
  epollFd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epollFd_ < 0) throw std::runtime_error(std::string("epoll_create1: ") + strerror(errno));
  if (int rc = uv_poll_init(loop, &handle_, epollFd_); rc != 0) {
    throw std::runtime_error(std::string("watching the epoll set: ") + uv_strerror(rc));
  }
  handle_.data = this;
  uv_poll_start(&handle_, UV_READABLE, onReadable);
}

bool EpollSet::add(Connection* connection, int fd) {
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.ptr = connection;
  if (::epoll_ctl(epollFd_, EPOLL_CTL_ADD, fd, &event) != 0) return false;
  if (static_cast<size_t>(fd) >= byFd_.size()) byFd_.resize(static_cast<size_t>(fd) + 1);
  byFd_[static_cast<size_t>(fd)] = connection;
  return true;
}

void EpollSet::watch(Connection* connection, int fd, bool writable) {
  epoll_event event{};
  event.events = writable ? uint32_t{EPOLLIN | EPOLLOUT} : uint32_t{EPOLLIN};
  event.data.ptr = connection;
  ::epoll_ctl(epollFd_, EPOLL_CTL_MOD, fd, &event);
}

void EpollSet::remove(Connection* connection, int fd) {
  ::epoll_ctl(epollFd_, EPOLL_CTL_DEL, fd, nullptr);
  if (static_cast<size_t>(fd) < byFd_.size() && byFd_[static_cast<size_t>(fd)] == connection) {
    byFd_[static_cast<size_t>(fd)] = nullptr;
  }
}

std::vector<Connection*> EpollSet::all() const {
  std::vector<Connection*> all;
  for (Connection* connection : byFd_) {
    if (connection != nullptr) all.push_back(connection);
  }
  return all;
}

std::vector<int> EpollSet::fds() const {
  std::vector<int> fds;
  for (size_t fd = 0; fd < byFd_.size(); ++fd) {
    if (byFd_[fd] != nullptr) fds.push_back(static_cast<int>(fd));
  }
  return fds;
}

void EpollSet::close() {
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_), nullptr);
  ::close(epollFd_);
}

void EpollSet::onReadable(uv_poll_t* handle, int /*status*/, int /*events*/) {
  auto* self = static_cast<EpollSet*>(handle->data);
  // One batch per wakeup: the set is level-triggered, so whatever is left comes back next time,
  // after the loop served its timers and the hub.
  epoll_event events[kEpollBatch];
  int n = ::epoll_wait(self->epollFd_, events, kEpollBatch, 0);
  for (int i = 0; i < n; ++i) static_cast<Connection*>(events[i].data.ptr)->onEvents(events[i].events);
}

}  // namespace webim
