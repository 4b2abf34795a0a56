#include "frontend/admin_listener.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "frontend/listen_address.h"

namespace webim {

namespace {
constexpr int kBacklog = 128;
}  // namespace

void AdminListener::open(uv_loop_t* loop, const std::string& address, AcceptHandler onAccept) {
  // No SO_REUSEPORT: a second process on this port is a mistake (two instances with one number).
  int fd = openListeningSocket(address, false, kBacklog, "admin_listen address " + address);
  int rc = uv_poll_init_socket(loop, &poll_, fd);
  if (rc != 0) {
    ::close(fd);
    throw std::runtime_error("cannot listen on admin_listen " + address + ": " + uv_strerror(rc));
  }
  fd_ = fd;
  onAccept_ = std::move(onAccept);
  poll_.data = this;
  uv_timer_init(loop, &pause_);
  pause_.data = this;
  uv_poll_start(&poll_, UV_READABLE, onReadable);
}

void AdminListener::close() {
  if (fd_ < 0) return;
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&pause_), nullptr);
  ::close(fd_);
  fd_ = -1;
}

std::string AdminListener::boundAddress() const {
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  if (fd_ < 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &length) != 0) return {};
  return formatAddress(reinterpret_cast<sockaddr*>(&bound));
}

void AdminListener::onReadable(uv_poll_t* handle, int /*status*/, int /*events*/) {
  auto* self = static_cast<AdminListener*>(handle->data);
  for (int i = 0; i < kAcceptBatch && self->fd_ >= 0; ++i) {
    int fd = ::accept4(self->fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      // Out of descriptors or memory: the socket stays readable, so pause rather than spin.
      uv_poll_stop(&self->poll_);
      uv_timer_start(
          &self->pause_,
          [](uv_timer_t* timer) {
            auto* listener = static_cast<AdminListener*>(timer->data);
            if (listener->fd_ >= 0) uv_poll_start(&listener->poll_, UV_READABLE, onReadable);
          },
          kPauseMs, 0);
      return;
    }
    self->onAccept_(fd);
  }
}

}  // namespace webim
