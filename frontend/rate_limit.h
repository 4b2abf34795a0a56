// The token bucket behind `rate_limit` and `rate_burst` (docs/protocol.md "Limits"): `burst`
// requests at once, `perSecond` on average. Counted in thousandths of a request and refilled lazily
// from the time elapsed since the last take, so an idle bucket costs nothing and needs no timer.
// Pure; its state is two integers kept by its owner (a connection keeps them apart to pack its
// layout; UserRateLimits keeps one pair per user).
#pragma once

#include <algorithm>
#include <cstdint>

namespace webim {

// Thousandths of a request: one request takes this many.
constexpr uint64_t kTokenMilli = 1000;

// A full bucket: what a new connection or user starts with.
constexpr uint64_t fullBucketMilli(uint32_t burst) noexcept { return uint64_t{burst} * kTokenMilli; }

// One request at `nowMs`: refills the bucket for the time since `refillMs` (at most to full), then
// takes one token. False, with nothing taken, when less than one token is left. `Tokens` is the
// owner's integer type; a full bucket must fit it.
template <class Tokens>
bool takeToken(uint64_t& refillMs, Tokens& tokensMilli, uint64_t nowMs, uint32_t perSecond, uint32_t burst) noexcept {
  const uint64_t refill = (nowMs - refillMs) * perSecond;  // ms * requests/s = thousandths
  tokensMilli = static_cast<Tokens>(std::min<uint64_t>(fullBucketMilli(burst), tokensMilli + refill));
  refillMs = nowMs;
  if (tokensMilli < kTokenMilli) return false;
  tokensMilli -= static_cast<Tokens>(kTokenMilli);
  return true;
}

}  // namespace webim
