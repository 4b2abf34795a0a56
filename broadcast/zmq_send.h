// Sending one frame without blocking, shared by the hub's replies and its publisher.
#pragma once

#include <cerrno>
#include <utility>
#include <zmq.hpp>

namespace webim::hub {

// A frame that failed with EINTR was not consumed, so it is retried as is; giving up halfway
// would leave a partial multipart message that the next send would complete with wrong frames.
// False when the socket refused the frame (EAGAIN: only an XPUB with ZMQ_XPUB_NODROP does).
// A ROUTER with ZMQ_ROUTER_MANDATORY refuses a frame for a peer that is gone (EHOSTUNREACH): false.
template <typename Frame>
bool sendFrame(zmq::socket_ref socket, Frame&& frame, zmq::send_flags flags) {
  for (;;) {
    try {
      return socket.send(std::forward<Frame>(frame), flags | zmq::send_flags::dontwait).has_value();
    } catch (const zmq::error_t& e) {
      if (e.num() == EHOSTUNREACH) return false;
      if (e.num() != EINTR) throw;
    }
  }
}

}  // namespace webim::hub
