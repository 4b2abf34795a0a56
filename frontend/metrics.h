// Counters of one frontend process, rendered as Prometheus text at GET /metrics.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace webim {

struct Metrics {
  uint64_t connectionsAccepted = 0;
  uint64_t connectionsOpen = 0;
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
  std::map<uint16_t, uint64_t> closesByCode;

  // `channels` and `subscriptions` are read from the live index when rendering.
  std::string render(const std::string& frontendId, size_t channels, size_t subscriptions) const;
};

}  // namespace webim
