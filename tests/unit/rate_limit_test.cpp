#include "frontend/rate_limit.h"

#include <catch2/catch.hpp>

#include <cstdint>

using namespace webim;

namespace {

// A connection's bucket: a full one at `startMs`, its tokens in 32 bits as Connection keeps them.
struct Bucket {
  uint64_t refillMs;
  uint32_t tokensMilli;
  uint32_t perSecond;
  uint32_t burst;
  Bucket(uint64_t startMs, uint32_t perSecond_, uint32_t burst_)
      : refillMs(startMs), tokensMilli(static_cast<uint32_t>(fullBucketMilli(burst_))), perSecond(perSecond_), burst(burst_) {}
  bool take(uint64_t nowMs) { return takeToken(refillMs, tokensMilli, nowMs, perSecond, burst); }
};

}  // namespace

TEST_CASE("a full bucket takes `burst` requests at once, then refuses", "[rate_limit]") {
  Bucket b(1000, 20, 40);
  for (int i = 0; i < 40; ++i) CHECK(b.take(1000));
  CHECK_FALSE(b.take(1000));
  CHECK_FALSE(b.take(1000));  // a refused request takes nothing
  CHECK(b.tokensMilli == 0);
}

TEST_CASE("the bucket refills at `perSecond`, in thousandths", "[rate_limit]") {
  Bucket b(0, 20, 40);
  for (int i = 0; i < 40; ++i) b.take(0);
  CHECK_FALSE(b.take(49));  // 49 ms at 20/s: 0.98 of a request
  CHECK(b.take(50));        // 0.98 + 0.02: one
  CHECK_FALSE(b.take(50));
  // A steady 20 per second goes through forever; 21 does not.
  int taken = 0;
  for (uint64_t t = 100; t < 10'100; t += 50) taken += b.take(t);
  CHECK(taken == 200);
  Bucket faster(0, 20, 1);
  int refused = 0;
  for (uint64_t t = 0; t < 1000; t += 25) refused += !faster.take(t);  // 40/s against 20/s
  CHECK(refused == 20);
}

TEST_CASE("an idle bucket refills to full, never beyond, however long it was idle", "[rate_limit]") {
  Bucket b(0, 20, 3);
  for (int i = 0; i < 3; ++i) b.take(0);
  const uint64_t muchLater = uint64_t{1} << 40;  // the refill product would not fit 32 bits
  for (int i = 0; i < 3; ++i) CHECK(b.take(muchLater));
  CHECK_FALSE(b.take(muchLater));
}

TEST_CASE("64-bit tokens, as UserRateLimits keeps them, behave the same", "[rate_limit]") {
  uint64_t refillMs = 0;
  uint64_t tokens = fullBucketMilli(2);
  CHECK(takeToken(refillMs, tokens, 0, 10, 2));
  CHECK(takeToken(refillMs, tokens, 0, 10, 2));
  CHECK_FALSE(takeToken(refillMs, tokens, 99, 10, 2));
  CHECK(takeToken(refillMs, tokens, 100, 10, 2));
  CHECK(refillMs == 100);
}
