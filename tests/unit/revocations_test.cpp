#include "frontend/revocations.h"

#include <catch2/catch.hpp>

#include <string>

using namespace webim;

namespace {

TokenClaims claims(std::string sub, int64_t iatSeconds) {
  TokenClaims c;
  c.sub = std::move(sub);
  c.iat = iatSeconds;
  return c;
}

constexpr int64_t kDayMs = 86'400'000;

}  // namespace

TEST_CASE("a kick revokes the user's tokens issued at or before it, not later ones", "[revocations]") {
  Revocations revocations(kDayMs);
  revocations.note("u1", 5'000, 5'000);
  CHECK(revocations.isRevoked(claims("u1", 4)));
  CHECK(revocations.isRevoked(claims("u1", 5)));   // issued in the kick's second
  CHECK_FALSE(revocations.isRevoked(claims("u1", 6)));
  CHECK(revocations.isRevoked(claims("u1", 0)));   // no iat: any kick revokes it
  CHECK_FALSE(revocations.isRevoked(claims("u2", 0)));
}

TEST_CASE("the latest kick of a user counts; kicks without a time are ignored", "[revocations]") {
  Revocations revocations(kDayMs);
  revocations.note("u1", 9'000, 9'000);
  revocations.note("u1", 3'000, 9'000);  // an older kick arriving late (from a hub's store)
  CHECK(revocations.isRevoked(claims("u1", 8)));
  revocations.note("u2", 0, 9'000);
  revocations.note("u2", -1, 9'000);
  CHECK(revocations.size() == 1);
  CHECK_FALSE(revocations.isRevoked(claims("u2", 0)));
}

TEST_CASE("kicks older than the keep window are forgotten once the table doubled", "[revocations]") {
  Revocations revocations(kDayMs);
  const int64_t now = 10 * kDayMs;
  CHECK(revocations.windowStartMs(now) == 9 * kDayMs);
  for (int i = 0; i < 1000; ++i) revocations.note("old" + std::to_string(i), 2 * kDayMs, 2 * kDayMs);
  for (int i = 0; i < 23; ++i) revocations.note("new" + std::to_string(i), now, now);
  CHECK(revocations.size() == 1023);
  revocations.note("last", now, now);  // the 1024th: a sweep
  CHECK(revocations.size() == 24);
  CHECK_FALSE(revocations.isRevoked(claims("old1", 0)));
  CHECK(revocations.isRevoked(claims("new1", 0)));
}
