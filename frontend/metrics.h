// Counters of one frontend process, rendered as Prometheus text at GET /metrics (on the private
// listener, docs/deploy.md "Metrics"). Every series is listed in docs/deploy.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/latency_histogram.h"

namespace webim {

struct Metrics {
  uint64_t connectionsAccepted = 0;
  uint64_t connectionsOpen = 0;
  uint64_t privateOpen = 0;  // of connectionsOpen, accepted on admin_listen (not served)
  uint64_t connectionsRefused = 0;
  uint64_t acceptErrors = 0;
  uint64_t websocketsOpen = 0;
  uint64_t authenticated = 0;
  uint64_t messagesIn = 0;    // client frames carrying a request
  uint64_t messagesOut = 0;   // frames queued to clients (replies and deliveries)
  uint64_t deliveries = 0;    // msg frames queued to subscribers
  uint64_t bytesOut = 0;
  uint64_t publishes = 0;
  uint64_t signalsOut = 0;        // client signals handed to a hub
  uint64_t signalDeliveries = 0;  // signal frames queued to subscribers
  uint64_t publishErrors = 0;
  uint64_t hubTimeouts = 0;
  uint64_t gaps = 0;
  uint64_t gapMessagesFilled = 0;
  uint64_t resyncs = 0;
  uint64_t catchUpReadRetries = 0;   // history reads (fills, recoveries) tried again after `unavailable`
  uint64_t streamsTooSlow = 0;       // event streams ended: over the backlog limit or a stalled write
  uint64_t userCapRefusals = 0;      // connections refused: max_connections_per_user
  uint64_t addressCapRefusals = 0;   // connections refused: max_connections_per_address
  uint64_t inboxAttaches = 0;        // inboxes the hub acknowledged holding for us
  uint64_t inboxAttachRetries = 0;   // attach chunks not acknowledged (retried with backoff)
  uint64_t httpRequests = 0;
  uint64_t eventStreams = 0;         // open: SSE streams (GET /events, Accept: text/event-stream)
  uint64_t longPolls = 0;            // open: long-polls waiting (GET /events)
  uint64_t rateLimited = 0;          // connections closed 4008 (rate_limit)
  uint64_t fills = 0;                // history reads started to fill a gap
  uint64_t duplicatesDropped = 0;    // hub deliveries already delivered (seq <= the channel's last)
  uint64_t backlogBytes = 0;         // bytes waiting for backed-up sockets (BacklogBytes)
  LatencyHistogram publishAck;       // a client's publish sent to the hub -> its ack back
  LatencyHistogram deliveryFlush;    // the first hub delivery of a loop iteration -> its flush done
  std::map<uint16_t, uint64_t> closesByCode;

  // `channels` and `subscriptions` are read from the live index when rendering.
  std::string render(const std::string& frontendId, size_t channels, size_t subscriptions) const;
};

// A byte count that keeps a process-wide gauge in step (Metrics::backlogBytes): every change of
// the count changes the gauge, and the count leaves the gauge when it goes.
class BacklogBytes {
 public:
  explicit BacklogBytes(uint64_t& gauge) noexcept : gauge_(&gauge) {}
  BacklogBytes(const BacklogBytes&) = delete;
  BacklogBytes& operator=(const BacklogBytes&) = delete;
  ~BacklogBytes() { *gauge_ -= value_; }
  BacklogBytes& operator=(size_t value) noexcept {
    *gauge_ += value - value_;  // modulo 2^64: the gauge ends right
    value_ = value;
    return *this;
  }
  BacklogBytes& operator+=(size_t n) noexcept { return *this = value_ + n; }
  BacklogBytes& operator-=(size_t n) noexcept { return *this = value_ - n; }
  operator size_t() const noexcept { return value_; }

 private:
  uint64_t* gauge_;
  size_t value_ = 0;
};

}  // namespace webim
