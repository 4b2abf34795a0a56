// Sending one frame and receiving one message without blocking, shared by the hub's ingresses,
// replies, publisher and ZAP handler.
#pragma once

#include <cerrno>
#include <iterator>
#include <utility>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

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

// One whole multipart message if one is queued; false when none is (or the wait was interrupted:
// the caller's poll loop comes back to it).
inline bool receiveMessage(zmq::socket_ref socket, std::vector<zmq::message_t>& frames) {
  try {
    return zmq::recv_multipart(socket, std::back_inserter(frames), zmq::recv_flags::dontwait).has_value();
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return false;
    throw;
  }
}

}  // namespace webim::hub
