#include "broadcast/channel_presence_table.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using webim::hub::ChannelPresenceTable;

namespace {

using Users = std::vector<std::string>;

ChannelPresenceTable table(size_t maxMembers = 1000, uint64_t graceMs = 5000) {
  return ChannelPresenceTable({maxMembers, graceMs, 200});
}

void report(ChannelPresenceTable& t, const std::string& fe, uint32_t connections, Users join, Users leave,
            uint64_t now, const std::string& ch = "room:1") {
  REQUIRE(t.update(fe, 1, ch, connections, join, leave, now));
}

void forget(ChannelPresenceTable& t, const std::string& fe, uint64_t now) {
  t.forgetFrontend(fe);
  while (t.forgetting()) t.forgetStep(1, now);
}

}  // namespace

TEST_CASE("counts connections and unique users across frontends", "[channel_presence]") {
  ChannelPresenceTable t = table();
  report(t, "a", 3, {"7", "8"}, {}, 0);
  report(t, "b", 2, {"7"}, {}, 0);
  CHECK(t.stats("room:1").connections == 5);
  CHECK(t.stats("room:1").users == 2);
  report(t, "a", 4, {}, {}, 10);  // absolute: sent twice, counted once
  report(t, "a", 4, {}, {}, 10);
  CHECK(t.stats("room:1").connections == 6);
  CHECK(t.stats("room:2").users == 0);
}

TEST_CASE("joins are coalesced per channel into one event per interval", "[channel_presence]") {
  ChannelPresenceTable t = table();
  report(t, "a", 1, {"7"}, {}, 1000);
  std::vector<ChannelPresenceTable::Event> events = t.takeEvents(1000);
  REQUIRE(events.size() == 1);
  CHECK(events[0].join == Users{"7"});
  report(t, "a", 3, {"8"}, {}, 1010);
  report(t, "b", 1, {"9"}, {}, 1020);
  CHECK(t.takeEvents(1100).empty());  // within 200 ms of the last event
  CHECK(t.nextDeadlineMs() == 1200);
  events = t.takeEvents(1200);
  REQUIRE(events.size() == 1);
  CHECK(events[0].join == Users{"8", "9"});
  CHECK(events[0].leave.empty());
}

TEST_CASE("a reconnect within the grace is neither a leave nor a join", "[channel_presence]") {
  ChannelPresenceTable t = table();
  report(t, "a", 1, {"7"}, {}, 0);
  t.takeEvents(0);
  report(t, "a", 0, {}, {"7"}, 100);
  CHECK(t.stats("room:1").users == 1);  // in its grace: still a member
  report(t, "b", 1, {"7"}, {}, 3000);   // back, on another frontend
  CHECK(t.takeEvents(10000).empty());
  CHECK(t.stats("room:1").users == 1);
  CHECK(t.stats("room:1").connections == 1);
}

TEST_CASE("a leave is published after the grace", "[channel_presence]") {
  ChannelPresenceTable t = table();
  report(t, "a", 2, {"7", "8"}, {}, 0);
  t.takeEvents(0);
  report(t, "a", 1, {}, {"7"}, 1000);
  CHECK(t.takeEvents(5999).empty());
  std::vector<ChannelPresenceTable::Event> events = t.takeEvents(6000);
  REQUIRE(events.size() == 1);
  CHECK(events[0].leave == Users{"7"});
  CHECK(t.stats("room:1").users == 1);
}

TEST_CASE("a join and a leave between two events cancel out", "[channel_presence]") {
  ChannelPresenceTable t = table(1000, 0);  // no grace
  report(t, "a", 1, {"7"}, {}, 0);
  t.takeEvents(0);
  report(t, "a", 2, {"8"}, {}, 50);
  report(t, "a", 1, {}, {"8"}, 60);
  report(t, "a", 0, {}, {"7"}, 70);
  std::vector<ChannelPresenceTable::Event> events = t.takeEvents(200);
  REQUIRE(events.size() == 1);
  CHECK(events[0].join.empty());
  CHECK(events[0].leave == Users{"7"});
  CHECK(t.channels() == 0);  // nothing left: the channel is gone
}

TEST_CASE("a forgotten frontend's users leave after the grace unless held elsewhere", "[channel_presence]") {
  ChannelPresenceTable t = table();
  report(t, "a", 2, {"7", "8"}, {}, 0);
  report(t, "b", 1, {"8"}, {}, 0);
  t.takeEvents(0);
  forget(t, "a", 1000);
  CHECK(t.stats("room:1").connections == 1);
  CHECK(t.takeEvents(5999).empty());
  std::vector<ChannelPresenceTable::Event> events = t.takeEvents(6000);
  REQUIRE(events.size() == 1);
  CHECK(events[0].leave == Users{"7"});
  CHECK(t.stats("room:1").users == 1);
}

TEST_CASE("the member cap: listed up to the cap, counted beyond it", "[channel_presence]") {
  ChannelPresenceTable t = table(2);
  report(t, "a", 4, {"1", "2", "3", "4"}, {}, 0);
  std::vector<ChannelPresenceTable::Event> events = t.takeEvents(0);
  REQUIRE(events.size() == 1);
  CHECK(events[0].join == Users{"1", "2"});
  CHECK(t.stats("room:1").users == 4);
  CHECK(t.list("room:1", "", 100).users == Users{"1", "2"});
  report(t, "a", 3, {}, {"4"}, 10);  // unlisted: only the count moves
  CHECK(t.stats("room:1").users == 3);
  forget(t, "a", 20);
  CHECK(t.stats("room:1").users == 2);  // 1 and 2 in their grace
  t.takeEvents(10000);
  CHECK(t.stats("room:1").users == 0);
}

TEST_CASE("members are listed in pages after a user id", "[channel_presence]") {
  ChannelPresenceTable t = table();
  report(t, "a", 5, {"a", "b", "c", "d", "e"}, {}, 0);
  ChannelPresenceTable::Page page = t.list("room:1", "", 2);
  CHECK(page.users == Users{"a", "b"});
  CHECK(page.more);
  page = t.list("room:1", "b", 2);
  CHECK(page.users == Users{"c", "d"});
  page = t.list("room:1", "d", 2);
  CHECK(page.users == Users{"e"});
  CHECK_FALSE(page.more);
  CHECK(t.list("room:9", "", 2).users.empty());
}

TEST_CASE("a member held by more frontends than fit inline", "[channel_presence]") {
  ChannelPresenceTable t = table();
  for (const char* fe : {"a", "b", "c", "d", "e"}) report(t, fe, 1, {"7"}, {}, 0);
  t.takeEvents(0);
  CHECK(t.stats("room:1").users == 1);
  CHECK(t.stats("room:1").connections == 5);
  for (const char* fe : {"b", "d", "a", "e"}) report(t, fe, 0, {}, {"7"}, 10);
  CHECK(t.takeEvents(10000).empty());  // still held by c
  forget(t, "c", 10000);
  std::vector<ChannelPresenceTable::Event> events = t.takeEvents(20000);
  REQUIRE(events.size() == 1);
  CHECK(events[0].leave == Users{"7"});
  CHECK(t.channels() == 0);
}

TEST_CASE("joined, left and joined again between two events: one join", "[channel_presence]") {
  ChannelPresenceTable t = table(1000, 0);
  report(t, "a", 1, {"1"}, {}, 0);
  t.takeEvents(0);
  report(t, "a", 2, {"7"}, {}, 10);
  report(t, "a", 1, {}, {"7"}, 20);
  report(t, "a", 2, {"7"}, {}, 30);
  std::vector<ChannelPresenceTable::Event> events = t.takeEvents(200);
  REQUIRE(events.size() == 1);
  CHECK(events[0].join == Users{"7"});
  CHECK(events[0].leave.empty());
}

TEST_CASE("takeEvents handles a bounded number of deadlines per call", "[channel_presence]") {
  ChannelPresenceTable t = table(1000, 0);
  for (int c = 0; c < 10; ++c) report(t, "a", 1, {"7"}, {}, 0, "room:" + std::to_string(c));
  size_t events = 0;
  for (int call = 0; call < 10 && t.nextDeadlineMs() <= 0; ++call) {
    const size_t got = t.takeEvents(0, 3).size();
    CHECK(got <= 3);
    events += got;
  }
  CHECK(events == 10);
}

TEST_CASE("a frontend's new process reports afresh while the old one is being forgotten", "[channel_presence]") {
  ChannelPresenceTable t = table();
  report(t, "a", 2, {"7", "8"}, {}, 0);
  t.takeEvents(0);
  REQUIRE(t.update("a", 2, "room:1", 1, Users{"7"}, {}, 100));  // a new boot: the old one withdrawn in slices
  CHECK(t.forgetting());
  while (t.forgetting()) t.forgetStep(1, 100);
  CHECK(t.stats("room:1").connections == 1);
  std::vector<ChannelPresenceTable::Event> events = t.takeEvents(6000);
  REQUIRE(events.size() == 1);
  CHECK(events[0].leave == Users{"8"});  // 7 came back with the new process
  CHECK(t.stats("room:1").users == 1);
}
