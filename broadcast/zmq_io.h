// Sending one frame and receiving one message without blocking, shared by the hub's ingresses,
// replies, publisher and ZAP handler.
#pragma once

#include <cerrno>
#include <utility>
#include <vector>
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

// Lets the socket take in its pending commands now (ZMQ_EVENTS does; a send does at most once a
// millisecond): an XPUB learns, say, that a frontend read from a pipe that was full. An interrupted
// call leaves them to the next one.
inline void takeCommands(zmq::socket_ref socket) {
  try {
    (void)socket.get(zmq::sockopt::events);
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) throw;
  }
}

// One whole multipart message if one is queued; false when none is (or the wait was interrupted:
// the caller's poll loop comes back to it). Most calls in a loop end on an empty queue, so the
// first frame is received before `frames` grows; it then grows once for a ROUTER's [identity][body]
// (the parts of a message arrive together: once the first is here, so are the others).
inline bool receiveMessage(zmq::socket_ref socket, std::vector<zmq::message_t>& frames) {
  try {
    zmq::message_t frame;
    if (!socket.recv(frame, zmq::recv_flags::dontwait)) return false;
    frames.reserve(frames.size() + 2);
    bool more = frame.more();
    frames.push_back(std::move(frame));
    while (more) {
      if (!socket.recv(frame, zmq::recv_flags::dontwait)) return false;
      more = frame.more();
      frames.push_back(std::move(frame));
    }
    return true;
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return false;
    throw;
  }
}

}  // namespace webim::hub
