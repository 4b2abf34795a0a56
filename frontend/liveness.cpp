#include "frontend/liveness.h"

#include <algorithm>

namespace webim {

Liveness checkLiveness(uint64_t nowMs, LivenessTimes& times, const LivenessLimits& limits) noexcept {
  if (nowMs >= times.authOrExpiryMs) return Liveness::Expired;
  if (times.stalledSinceMs != 0 && nowMs >= times.stalledSinceMs + limits.writeTimeoutMs) return Liveness::Stalled;
  if (times.pongDeadlineMs != 0) {
    if (times.lastReadMs + limits.pongTimeoutMs >= times.pongDeadlineMs) {
      times.pongDeadlineMs = 0;  // something arrived after the ping: alive
    } else if (nowMs >= times.pongDeadlineMs) {
      return Liveness::Silent;
    }
  }
  if (times.pongDeadlineMs == 0 && nowMs >= times.lastReadMs + limits.pingIntervalMs) return Liveness::PingDue;
  return Liveness::Alive;
}

uint64_t nextLivenessCheck(const LivenessTimes& times, const LivenessLimits& limits) noexcept {
  uint64_t next = times.authOrExpiryMs;
  next = std::min(next, times.pongDeadlineMs != 0 ? times.pongDeadlineMs : times.lastReadMs + limits.pingIntervalMs);
  if (times.stalledSinceMs != 0) next = std::min(next, times.stalledSinceMs + limits.writeTimeoutMs);
  return next;
}

}  // namespace webim
