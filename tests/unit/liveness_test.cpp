#include "frontend/liveness.h"

#include <catch2/catch.hpp>

using namespace webim;

namespace {
constexpr LivenessLimits kLimits{30'000, 10'000, 10'000};  // ping interval, pong timeout, write timeout
}  // namespace

TEST_CASE("before the auth deadline or the token's expiry nothing is due; at it, Expired", "[liveness]") {
  LivenessTimes t{5'000, 0, 0, 0};
  CHECK(checkLiveness(4'999, t, kLimits) == Liveness::Alive);
  CHECK(checkLiveness(5'000, t, kLimits) == Liveness::Expired);
  CHECK(nextLivenessCheck(t, kLimits) == 5'000);
}

TEST_CASE("a connection silent for ping_interval_ms gets a ping, then is dropped without an answer", "[liveness]") {
  LivenessTimes t{1'000'000, 100, 0, 0};
  CHECK(nextLivenessCheck(t, kLimits) == 30'100);
  CHECK(checkLiveness(30'099, t, kLimits) == Liveness::Alive);
  CHECK(checkLiveness(30'100, t, kLimits) == Liveness::PingDue);
  t.pongDeadlineMs = pongDeadline(30'100, kLimits);
  CHECK(t.pongDeadlineMs == 40'100);
  CHECK(nextLivenessCheck(t, kLimits) == 40'100);
  CHECK(checkLiveness(40'099, t, kLimits) == Liveness::Alive);
  CHECK(checkLiveness(40'100, t, kLimits) == Liveness::Silent);
}

TEST_CASE("anything read after the ping proves the peer alive, not only a pong", "[liveness]") {
  LivenessTimes t{1'000'000, 100, 40'100, 0};  // pinged at 30,100
  t.lastReadMs = 30'100;                       // read in the ping's millisecond
  CHECK(checkLiveness(40'100, t, kLimits) == Liveness::Alive);
  CHECK(t.pongDeadlineMs == 0);
  CHECK(nextLivenessCheck(t, kLimits) == 60'100);
  LivenessTimes before{1'000'000, 30'099, 40'100, 0};  // the last read came before the ping
  CHECK(checkLiveness(40'100, before, kLimits) == Liveness::Silent);
}

TEST_CASE("a write stalled for write_timeout_ms is Stalled, before any ping", "[liveness]") {
  LivenessTimes t{1'000'000, 0, 0, 2'000};
  CHECK(nextLivenessCheck(t, kLimits) == 12'000);
  CHECK(checkLiveness(11'999, t, kLimits) == Liveness::Alive);
  CHECK(checkLiveness(12'000, t, kLimits) == Liveness::Stalled);
  CHECK(checkLiveness(40'000, t, kLimits) == Liveness::Stalled);  // ahead of the ping due then
  LivenessTimes expired{12'000, 0, 0, 2'000};
  CHECK(checkLiveness(12'000, expired, kLimits) == Liveness::Expired);  // expiry first
}
