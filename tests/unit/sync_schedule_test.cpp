#include "broadcast/sync_schedule.h"

#include <catch2/catch.hpp>

using namespace webim::hub;

TEST_CASE("a written channel gets a sync in each of kRounds rounds, then leaves the schedule", "[sync_schedule]") {
  // Two at least: the first round can follow the burst at once, while ZeroMQ still skips a
  // frontend's overflowed pipe (tests/unit/publisher_test.cpp); the second comes a round later.
  STATIC_REQUIRE(SyncSchedule::kRounds >= 2);
  SyncSchedule schedule;
  schedule.written("room:1");
  schedule.written("room:1");  // a second write in the same round: still one sync per round
  std::vector<std::string> sent;
  for (int i = 0; i < SyncSchedule::kRounds; ++i) {
    CHECK(schedule.size() == 1);
    SyncSchedule::Round round = schedule.round([&](const std::string& ch) {
      sent.push_back(ch);
      return true;
    });
    CHECK(round.deferred == 0);
    CHECK(round.abandoned.empty());
  }
  CHECK(sent == std::vector<std::string>(SyncSchedule::kRounds, "room:1"));
  CHECK(schedule.size() == 0);
  CHECK(schedule.round([](const std::string&) { return true; }).deferred == 0);
}

TEST_CASE("a refused sync is tried again each round, up to its attempts", "[sync_schedule]") {
  SyncSchedule schedule;
  schedule.written("room:1");
  for (int i = 1; i < SyncSchedule::kAttempts; ++i) {
    SyncSchedule::Round round = schedule.round([](const std::string&) { return false; });
    CHECK(round.deferred == 1);
    CHECK(round.abandoned.empty());
    CHECK(schedule.size() == 1);
  }
  SyncSchedule::Round last = schedule.round([](const std::string&) { return false; });
  CHECK(last.abandoned == std::vector<std::string>{"room:1"});
  CHECK(schedule.size() == 0);
}

TEST_CASE("a write while a sync is deferred starts its attempts over", "[sync_schedule]") {
  SyncSchedule schedule;
  schedule.written("room:1");
  for (int i = 1; i < SyncSchedule::kAttempts; ++i) schedule.round([](const std::string&) { return false; });
  schedule.written("room:1");
  CHECK(schedule.round([](const std::string&) { return false; }).abandoned.empty());
  for (int i = 0; i < SyncSchedule::kRounds; ++i) CHECK(schedule.round([](const std::string&) { return true; }).deferred == 0);
  CHECK(schedule.size() == 0);
}
