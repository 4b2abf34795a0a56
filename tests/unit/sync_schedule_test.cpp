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

namespace {
// Rounds in which every sync goes out; the syncs sent.
int sendRounds(SyncSchedule& schedule, int rounds) {
  int sent = 0;
  for (int i = 0; i < rounds; ++i) schedule.round([&](const std::string&) { return ++sent > 0; });
  return sent;
}
}  // namespace

TEST_CASE("a subscribe to a channel written lately makes its syncs due again", "[sync_schedule]") {
  // A frontend that reconnects resubscribes: a message published before its subscription arrived
  // never reached it, and the syncs after that write may have gone out before it too.
  SyncSchedule schedule;
  schedule.written("room:1");
  CHECK(sendRounds(schedule, SyncSchedule::kRounds) == SyncSchedule::kRounds);
  CHECK(schedule.size() == 0);
  sendRounds(schedule, SyncSchedule::kRecentRounds - 1);
  schedule.subscribed("room:1");
  CHECK(schedule.size() == 1);
  CHECK(sendRounds(schedule, SyncSchedule::kRounds + 1) == SyncSchedule::kRounds);
  CHECK(schedule.size() == 0);
}

TEST_CASE("a subscribe while a channel's syncs are due starts them over", "[sync_schedule]") {
  SyncSchedule schedule;
  schedule.written("room:1");
  CHECK(sendRounds(schedule, SyncSchedule::kRounds - 1) == SyncSchedule::kRounds - 1);
  schedule.subscribed("room:1");  // the syncs left may meet a pipe the subscribe syncs just filled
  CHECK(sendRounds(schedule, SyncSchedule::kRounds + 1) == SyncSchedule::kRounds);
}

TEST_CASE("a subscribe to a channel not written lately costs nothing", "[sync_schedule]") {
  SyncSchedule schedule;
  schedule.subscribed("room:never");  // the thousands a reconnecting frontend resubscribes: no sync each
  CHECK(schedule.size() == 0);
  schedule.written("room:1");
  sendRounds(schedule, SyncSchedule::kRounds);
  sendRounds(schedule, 2 * SyncSchedule::kRecentRounds);  // forgotten within two generations
  schedule.subscribed("room:1");
  CHECK(schedule.size() == 0);
  CHECK(sendRounds(schedule, 1) == 0);
}
