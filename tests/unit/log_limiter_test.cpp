#include "common/log_limiter.h"

#include <catch2/catch.hpp>

using namespace webim;

namespace {
size_t admitted(LogLimiter& limiter, LogEvent event, uint64_t nowMs, size_t tries) {
  size_t n = 0;
  for (size_t i = 0; i < tries; ++i) n += limiter.admit(event, nowMs) ? 1 : 0;
  return n;
}
}  // namespace

TEST_CASE("log limiter: a burst, then the rate, the rest counted", "[log_limiter]") {
  LogLimiter limiter(10, 50);
  const uint64_t t0 = 1'000'000;
  CHECK(admitted(limiter, LogEvent::TokenRejected, t0, 100'000) == 50);
  // 100 ms later: one more line (10 per second).
  CHECK(admitted(limiter, LogEvent::TokenRejected, t0 + 100, 1000) == 1);
  // 2 s later: 20 more.
  CHECK(admitted(limiter, LogEvent::TokenRejected, t0 + 2100, 1000) == 20);
  std::vector<LogLimiter::Suppressed> s = limiter.takeSuppressed();
  REQUIRE(s.size() == 1);
  CHECK(s[0].event == LogEvent::TokenRejected);
  CHECK(s[0].count == (100'000 - 50) + (1000 - 1) + (1000 - 20));
  CHECK(limiter.takeSuppressed().empty());  // counted once
}

TEST_CASE("log limiter: kinds have their own buckets", "[log_limiter]") {
  LogLimiter limiter(10, 50);
  CHECK(admitted(limiter, LogEvent::TokenRejected, 5000, 200) == 50);
  // A flood of bad tokens does not hide a lost hub or a kick.
  CHECK(limiter.admit(LogEvent::HubLinkLost, 5000));
  CHECK(admitted(limiter, LogEvent::Kick, 5000, 3) == 3);
  std::vector<LogLimiter::Suppressed> s = limiter.takeSuppressed();
  REQUIRE(s.size() == 1);
  CHECK(s[0].count == 150);
}

TEST_CASE("log limiter: an idle bucket refills to its burst, no more", "[log_limiter]") {
  LogLimiter limiter(10, 50);
  CHECK(admitted(limiter, LogEvent::SlowConsumerClose, 0, 60) == 50);
  CHECK(admitted(limiter, LogEvent::SlowConsumerClose, 3'600'000, 200) == 50);       // an hour later: full
  CHECK(admitted(limiter, LogEvent::SlowConsumerClose, UINT64_MAX / 2, 200) == 50);  // no overflow
  CHECK(admitted(limiter, LogEvent::SlowConsumerClose, 1000, 5) ==
        0);  // the clock going back refills nothing
}
