#include "broadcast/metrics_server.h"

#include <spdlog/spdlog.h>

#include "common/websocket_handshake.h"  // httpResponse

namespace webim::hub {

namespace {
// "127.0.0.1:0" -> "tcp://127.0.0.1:*"; "[::1]:9640" -> "tcp://[::1]:9640".
std::string endpointOf(const std::string& address) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return "tcp://" + address;
  std::string port = address.substr(colon + 1);
  return "tcp://" + address.substr(0, colon + 1) + (port == "0" ? "*" : port);
}
}  // namespace

MetricsServer::MetricsServer(zmq::context_t& context, const std::string& address)
    : socket_(context, zmq::socket_type::stream) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.set(zmq::sockopt::sndhwm, 1000);
  socket_.set(zmq::sockopt::rcvhwm, 1000);
  if (address.find('[') != std::string::npos) socket_.set(zmq::sockopt::ipv6, 1);
  socket_.bind(endpointOf(address));
}

std::string MetricsServer::boundAddress() const {
  std::string endpoint = socket_.get(zmq::sockopt::last_endpoint);
  return endpoint.rfind("tcp://", 0) == 0 ? endpoint.substr(6) : endpoint;
}

void MetricsServer::serve(const std::function<std::string()>& render) {
  for (size_t i = 0; i < kMaxReads; ++i) {
    zmq::message_t id;
    zmq::message_t data;
    if (!socket_.recv(id, zmq::recv_flags::dontwait)) return;
    if (!id.more() || !socket_.recv(data, zmq::recv_flags::dontwait)) continue;
    std::string key = id.to_string();
    auto it = heads_.find(key);
    // A connection opened or closed (closes we make are not notified, but a close crossing ours
    // is: it must not count as an opening, or gone ids would evict live scrapes as the oldest).
    if (data.size() == 0) {
      if (it != heads_.end()) {
        heads_.erase(it);
      } else if (finished_.erase(key) == 0) {  // a notice follows its opening in the same pipe
        opened(key);
      }
      continue;
    }
    if (it == heads_.end()) {  // closed by us (its bytes were on the way) or answered: close it
      closeClient(key);        // (again): a live connection never waits for nothing
      continue;
    }
    it->second.append(static_cast<const char*>(data.data()), data.size());
    if (it->second.find("\r\n\r\n") != std::string::npos) {
      std::string head = std::move(it->second);
      heads_.erase(it);
      answer(key, head, render);
    } else if (it->second.size() > kMaxHeadBytes) {
      heads_.erase(it);
      closeClient(key);
    }
  }
}

void MetricsServer::finished(const std::string& id) {
  if (!finished_.insert(id).second) return;
  finishedOrder_.push_back(id);
  while (finishedOrder_.size() > kMaxFinished) {
    finished_.erase(finishedOrder_.front());
    finishedOrder_.pop_front();
  }
}

void MetricsServer::opened(const std::string& id) {
  // order_ may name ids already answered or gone: drop those, then the oldest open ones.
  while (heads_.size() >= kMaxClients && !order_.empty()) {
    std::string oldest = std::move(order_.front());
    order_.pop_front();
    if (heads_.erase(oldest) > 0) closeClient(oldest);
  }
  heads_.emplace(id, std::string());
  order_.push_back(id);
  if (order_.size() > 4 * kMaxClients) {  // compact: keep the ids still open, in order
    std::erase_if(order_, [this](const std::string& k) { return !heads_.contains(k); });
  }
}

void MetricsServer::answer(const std::string& id, const std::string& head,
                           const std::function<std::string()>& render) {
  std::string reply;
  if (head.rfind("GET /metrics ", 0) == 0 || head.rfind("GET /metrics?", 0) == 0) {
    reply = httpResponse(200, "text/plain; version=0.0.4", render());
  } else if (head.rfind("GET /healthz ", 0) == 0) {
    reply = httpResponse(200, "text/plain", "ok\n");
  } else {
    reply = httpResponse(404, "text/plain", "not found: GET /metrics or /healthz\n");
  }
  // The reply, then [id][empty]: close the connection once the bytes are out. A peer already gone
  // (EHOSTUNREACH) or going (EAGAIN: its pipe is terminating) gets neither.
  finished(id);
  if (sendTo(id, zmq::buffer(reply))) sendTo(id, zmq::const_buffer());
}

void MetricsServer::closeClient(const std::string& id) {
  finished(id);
  sendTo(id, zmq::const_buffer());
}

// ZMQ_STREAM takes [id][data] as two frames with no transaction: an id frame that fails (EAGAIN
// from cppzmq as an empty result, EHOSTUNREACH as a throw) leaves the socket expecting an id, so
// a data frame sent after it would be taken as the next id (ignored, as it has no SNDMORE) and
// every later frame would be shifted by one: every later reply would go nowhere and the endpoint
// would wedge. So the data frame goes only after its id frame went, and then always (the socket is
// never left mid-message: stream_t accepts a data frame whatever the pipe's state).
bool MetricsServer::sendTo(const std::string& id, zmq::const_buffer data) {
  try {
    if (!socket_.send(zmq::buffer(id), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      spdlog::debug("metrics: a scrape's connection is closing (EAGAIN), not answered");
      return false;
    }
  } catch (const zmq::error_t& e) {
    spdlog::debug("metrics: a scrape's connection is gone: {}", e.what());
    return false;
  }
  for (int attempt = 0;; ++attempt) {  // EINTR leaves the socket as it was: send the frame again
    try {
      socket_.send(data, zmq::send_flags::dontwait);
      return true;
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR || attempt >= 100) {
        spdlog::warn("metrics: cannot finish a reply: {}", e.what());
        return false;
      }
    }
  }
}

}  // namespace webim::hub
