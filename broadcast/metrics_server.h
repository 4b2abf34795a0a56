// The hub's own HTTP endpoint for Prometheus (metrics_listen): a ZMQ_STREAM socket in the hub's
// zmq_poll loop, answering GET /metrics (and GET /healthz) then closing the connection. The loop's
// work per wakeup is bounded (kMaxReads messages, kMaxClients connections, kMaxHeadBytes each);
// rendering happens only for a complete request head. At most kMaxClients connections are open: a
// new one closes the oldest, so clients that connect and never finish (slowloris) cannot lock the
// scrapes out nor hold the hub's file descriptors.
#pragma once

#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <zmq.hpp>

namespace webim::hub {

class MetricsServer {
 public:
  // Binds HOST:PORT (port 0: any free one). Throws zmq::error_t.
  MetricsServer(zmq::context_t& context, const std::string& address);
  zmq::socket_ref socket() noexcept { return socket_; }
  // HOST:PORT actually bound.
  std::string boundAddress() const;
  // Reads what arrived and answers every complete request with `render()` (GET /metrics).
  void serve(const std::function<std::string()>& render);

  static constexpr size_t kMaxReads = 64;
  static constexpr size_t kMaxClients = 16;
  static constexpr size_t kMaxHeadBytes = 8192;
  static constexpr size_t kMaxFinished = 1024;

 private:
  void answer(const std::string& id, const std::string& head, const std::function<std::string()>& render);
  void closeClient(const std::string& id);
  // Sends [id][data] whole, or nothing (false) when the peer is gone or going.
  bool sendTo(const std::string& id, zmq::const_buffer data);
  void opened(const std::string& id);
  // Remembers an id answered or closed by us: a notice (empty message) for it is then its close
  // crossing ours, not an opening (which would make an entry for a gone id, evicting live scrapes
  // as the oldest). The last kMaxFinished ids are remembered.
  void finished(const std::string& id);

  zmq::socket_t socket_;
  std::unordered_map<std::string, std::string> heads_;  // routing id -> request bytes so far
  std::deque<std::string> order_;                       // the ids of heads_, oldest first
  std::unordered_set<std::string> finished_;            // ids answered or closed by us, recent
  std::deque<std::string> finishedOrder_;               // the same (and some notified), oldest first
};

}  // namespace webim::hub
