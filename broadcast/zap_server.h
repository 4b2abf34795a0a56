// The hub's ZAP handler (ZeroMQ RFC 27): a REP socket on inproc://zeromq.zap.01 in the hub's
// context, which libzmq asks during every CURVE handshake on the hub's sockets. It is served from
// the hub's own zmq_poll loop (Hub::run polls socket() with the others), so no second thread
// shares the hub's state: a handshake waits at most one batch for its answer.
// Decisions are peer_auth.h's; refusals are logged rate-limited and counted.
#pragma once

#include <cstdint>
#include <zmq.hpp>

#include "broadcast/peer_auth.h"

namespace webim::hub {

class ZapServer {
 public:
  // Binds the ZAP endpoint: call before any CURVE socket of the context accepts a connection.
  ZapServer(zmq::context_t& context, PeerLists lists);

  zmq::socket_t& socket() noexcept { return rep_; }
  // Answers up to `max` pending requests without blocking.
  void serve(size_t max = 256);
  // Logs the refusals held back by the rate limit, once their interval has passed.
  void flushLog();
  // Takes effect for the next handshakes; connections already admitted stay.
  void setLists(PeerLists lists) { lists_ = std::move(lists); }

  uint64_t admitted() const noexcept { return admitted_; }
  uint64_t refused() const noexcept { return refused_; }

 private:
  zmq::socket_t rep_;
  PeerLists lists_;
  RefusalLog refusalLog_;
  uint64_t admitted_ = 0;
  uint64_t refused_ = 0;
};

}  // namespace webim::hub
