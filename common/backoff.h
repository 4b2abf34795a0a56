// jitteredBackoff: the pause before the next try of something that failed. `delayMs` is the caller's
// state (0 before the first failure, and again after a success): the wait is drawn from the upper
// half [d/2, d) of d = max(delayMs, minMs), so peers that failed together do not retry together,
// and d doubles, up to maxMs, for the next failure. Pure.
#pragma once

#include <algorithm>
#include <cstdint>

namespace webim {

inline uint64_t jitteredBackoff(uint64_t& delayMs, uint64_t minMs, uint64_t maxMs, uint64_t random) noexcept {
  const uint64_t d = std::max(delayMs, minMs);
  const uint64_t half = d / 2;
  delayMs = std::min(d * 2, maxMs);
  return half + (half > 0 ? random % half : 0);
}

}  // namespace webim
