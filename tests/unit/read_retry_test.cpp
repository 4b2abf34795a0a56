#include "frontend/read_retry.h"

#include <catch2/catch.hpp>

#include <algorithm>

using webim::ReadRetry;

TEST_CASE("read retry: only no answer or unavailable is tried again", "[read_retry]") {
  CHECK(ReadRetry::retryable(false, ""));
  CHECK(ReadRetry::retryable(true, "unavailable"));
  CHECK_FALSE(ReadRetry::retryable(true, "bad_request"));
  CHECK_FALSE(ReadRetry::retryable(true, "wrong_shard"));
}

TEST_CASE("read retry: jittered pauses double up to the cap, within the budget", "[read_retry]") {
  ReadRetry retry(10'000, 42);
  uint64_t now = 1'000'000;
  uint64_t bound = ReadRetry::kFirstMs;
  for (int i = 0; i < 8; ++i) {
    std::optional<uint64_t> pause = retry.next(now);
    REQUIRE(pause);
    CHECK(*pause >= bound / 2);
    CHECK(*pause < bound);
    now += *pause;
    bound = std::min(bound * 2, ReadRetry::kMaxMs);
  }
  CHECK(bound == ReadRetry::kMaxMs);
  CHECK(retry.attempts() == 8);
}

TEST_CASE("read retry: gives up once the budget from the first failure is spent", "[read_retry]") {
  ReadRetry retry(600, 7);
  uint64_t now = 5000;
  uint64_t granted = 0;
  for (;;) {
    std::optional<uint64_t> pause = retry.next(now);
    if (!pause) break;
    granted++;
    now += *pause + 20;  // the next read takes 20 ms and fails again
    REQUIRE(granted < 100);
  }
  CHECK(granted >= 3);
  CHECK(now - 5000 <= 600 + 20 * granted);
  CHECK(retry.attempts() == granted);
}

TEST_CASE("read retry: a success starts a new budget from the first pause", "[read_retry]") {
  ReadRetry retry(300, 1);
  uint64_t now = 0;
  while (std::optional<uint64_t> pause = retry.next(now)) now += *pause;
  CHECK_FALSE(retry.next(now));
  retry.succeeded();
  std::optional<uint64_t> pause = retry.next(now + 10'000);
  REQUIRE(pause);
  CHECK(*pause < ReadRetry::kFirstMs);
}
