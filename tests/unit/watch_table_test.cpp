// The watchlist's pure parts: the frontend's WatchTable (who watches whom, statuses, changes to
// send the hub) and the hub's PresenceGrace (a reconnect within the grace period is no event).
#include "frontend/watch_table.h"

#include <catch2/catch.hpp>

#include "broadcast/presence_grace.h"

using namespace webim;
using Strings = std::vector<std::string>;
using State = WatchTable::State;

TEST_CASE("watch table: the first watcher asks the hub, the last one tells it", "[watch]") {
  WatchTable t;
  WatchTable::Change a = t.set(10, {"bob", "carol", "bob"});
  CHECK(a.watch == Strings{"bob", "carol"});
  CHECK(a.unwatch.empty());
  CHECK(t.users() == 2);
  CHECK(t.watches() == 2);
  WatchTable::Change b = t.set(11, {"bob"});
  CHECK(b.watch.empty());
  CHECK(b.known.empty());  // bob's status is not known yet: the hub's answer will tell both
  CHECK(t.update("bob", {State::Online, 0}) == std::vector<int32_t>{10, 11});
  CHECK(t.update("bob", {State::Online, 0}).empty());  // no change: nobody told again
  WatchTable::Change c = t.set(12, {"bob"});
  REQUIRE(c.known.size() == 1);  // known now: told at once
  CHECK(t.user(c.known[0]) == "bob");
  CHECK(t.status(c.known[0]).state == State::Online);
  CHECK(t.clear(10) == Strings{"carol"});  // bob still has watchers
  CHECK(t.clear(11).empty());
  CHECK(t.clear(12) == Strings{"bob"});
  CHECK(t.users() == 0);
  CHECK(t.watches() == 0);
  CHECK(t.update("bob", {State::Offline, 5}).empty());  // nobody watches: ignored
}

TEST_CASE("watch table: a refresh replaces the list", "[watch]") {
  WatchTable t;
  t.set(3, {"a", "b"});
  t.update("a", {State::Offline, 7});
  WatchTable::Change r = t.set(3, {"b", "c"});
  CHECK(r.watch == Strings{"c"});
  CHECK(r.unwatch == Strings{"a"});
  CHECK(r.known.empty());  // b was watched before: nothing to tell again
  CHECK(t.watches() == 2);
  CHECK(t.set(3, {}).unwatch.size() == 2);
  CHECK_FALSE(t.watching(3));
}

TEST_CASE("watch table: an offline user's new last seen is a change", "[watch]") {
  WatchTable t;
  t.set(1, {"u"});
  CHECK(t.update("u", {State::Offline, 100}).size() == 1);
  CHECK(t.update("u", {State::Offline, 100}).empty());
  CHECK(t.update("u", {State::Offline, 200}).size() == 1);
}

TEST_CASE("grace: a return within the grace period is no event; going is told after it", "[watch]") {
  hub::PresenceGrace g(1000);
  CHECK(g.cameOnline("bob"));  // news
  g.wentOffline("bob", 100, 5100);
  CHECK(g.due(1099).empty());
  CHECK_FALSE(g.cameOnline("bob"));  // back within the grace: nothing to tell
  CHECK(g.due(5000).empty());
  g.wentOffline("bob", 2000, 7000);
  g.wentOffline("carol", 2500, 7500);
  auto due = g.due(3000);
  REQUIRE(due.size() == 1);
  CHECK(due[0].user == "bob");
  CHECK(due[0].sinceMs == 7000);
  CHECK(g.pending() == 1);
  g.wentOffline("carol", 3200, 7700);  // went again (after a return the hub did not see): the later time
  CHECK(g.due(3600).empty());
  due = g.due(4200);
  REQUIRE(due.size() == 1);
  CHECK(due[0].sinceMs == 7700);
  CHECK(g.pending() == 0);
}
