// A WebSocket connection's clocks (docs/protocol.md section 1): the auth deadline, then the token's
// expiry; a ping after ping_interval_ms without a read and the close when no pong (or anything) came
// within pong_timeout_ms; a write stalled beyond write_timeout_ms. The connection keeps the times in
// its own fields (one deadline node serves them all); these functions decide. Pure.
#pragma once

#include <cstdint>

namespace webim {

struct LivenessLimits {
  uint64_t pingIntervalMs;
  uint64_t pongTimeoutMs;
  uint64_t writeTimeoutMs;
};

// The times a connection keeps; 0 for a ping not outstanding or a write not stalled.
struct LivenessTimes {
  uint64_t authOrExpiryMs;
  uint64_t lastReadMs;
  uint64_t pongDeadlineMs;
  uint64_t stalledSinceMs;
};

enum class Liveness {
  Expired,  // the auth deadline or the token's expiry passed: close 4001
  Stalled,  // a write stalled too long: dropped as too slow (4009)
  Silent,   // no pong, nor anything else, after a ping: dropped
  PingDue,  // nothing read for ping_interval_ms: send a ping, its pong due by pongDeadline()
  Alive,
};

// What is due at `nowMs`, in that order. Clears `times.pongDeadlineMs` when something was read
// after the ping went out (any read proves the peer alive, not only a pong).
Liveness checkLiveness(uint64_t nowMs, LivenessTimes& times, const LivenessLimits& limits) noexcept;
// When a ping sent at `nowMs` must be answered.
inline uint64_t pongDeadline(uint64_t nowMs, const LivenessLimits& limits) noexcept { return nowMs + limits.pongTimeoutMs; }
// The next time anything is due: the earliest of the expiry, the pong deadline or the next ping, and
// the stalled write's timeout.
uint64_t nextLivenessCheck(const LivenessTimes& times, const LivenessLimits& limits) noexcept;

}  // namespace webim
