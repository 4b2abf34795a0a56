#include <catch2/catch.hpp>

#include "common/backoff.h"
#include "common/mix64.h"

using webim::jitteredBackoff;

TEST_CASE("jittered backoff: from the minimum, doubling to the maximum, each wait in [d/2, d)", "[backoff]") {
  uint64_t delay = 0;
  uint64_t expected = 50;
  for (int i = 0; i < 8; ++i) {
    const uint64_t wait = jitteredBackoff(delay, 50, 1000, webim::mix64(i));
    CHECK(wait >= expected / 2);
    CHECK(wait < expected);
    expected = std::min<uint64_t>(expected * 2, 1000);
    CHECK(delay == expected);
  }
  CHECK(jitteredBackoff(delay, 50, 1000, 0) == 500);  // random 0: the lower end
  delay = 0;  // a success: from the minimum again
  CHECK(jitteredBackoff(delay, 1, 1, 7) == 0);  // a 1 ms range has no upper half to draw from
}
