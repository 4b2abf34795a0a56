// The watchlist's pure parts: the frontend's WatchTable (who watches whom, statuses, changes to
// send the hub) and the hub's PresenceGrace (a reconnect within the grace period is no event).
#include "frontend/watch_table.h"

#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <set>

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

TEST_CASE("watch table: many watchers of one user, removed in any order, against a model", "[watch]") {
  WatchTable t;
  std::set<int32_t> model;  // who watches "star"
  std::mt19937 rng(15);
  for (int32_t fd = 0; fd < 3000; ++fd) {
    t.set(fd, {"star", "u" + std::to_string(fd % 7)});
    model.insert(fd);
  }
  CHECK(t.watches() == 6000);
  for (int round = 0; round < 4000; ++round) {
    const int32_t fd = static_cast<int32_t>(rng() % 3500);
    switch (rng() % 3) {
      case 0: t.clear(fd); model.erase(fd); break;
      case 1: t.set(fd, {"u" + std::to_string(fd % 5)}); model.erase(fd); break;  // a refresh dropping star
      default: t.set(fd, {"u" + std::to_string(fd % 3), "star"}); model.insert(fd); break;
    }
  }
  t.update("star", {State::Offline, 1});
  std::vector<int32_t> told = t.update("star", {State::Online, 0});
  CHECK(std::set<int32_t>(told.begin(), told.end()) == model);
  CHECK(told.size() == model.size());  // each once
  for (int32_t fd = 0; fd < 3500; ++fd) t.clear(fd);
  CHECK(t.users() == 0);
  CHECK(t.watches() == 0);
  // The arena's pages are reused: the same load again and again takes no more.
  for (int32_t fd = 0; fd < 3000; ++fd) t.set(fd, {"star", "u" + std::to_string(fd % 7)});
  const size_t held = t.pairBytes();
  for (int32_t fd = 0; fd < 3000; ++fd) t.clear(fd);
  for (int32_t fd = 0; fd < 3000; ++fd) t.set(fd, {"star", "u" + std::to_string(fd % 7)});
  CHECK(t.pairBytes() == held);
}

// 8 B per pair (slot + link), 8 B per 16-slot page (its owner, its place in the user's page list),
// at most one page partly empty per user, and the arena's vector growth.
TEST_CASE("watch table: 200 lists of 1,000 users: under 10 bytes per pair, all counted", "[watch]") {
  WatchTable t;
  Strings many;
  for (int i = 0; i < 1000; ++i) many.push_back("m" + std::to_string(i));
  for (int32_t fd = 0; fd < 200; ++fd) t.set(fd, many);
  CHECK(t.watches() == 200000);
  CHECK(t.pairBytes() >= t.watches() * 8);
  CHECK(t.pairBytes() <= t.watches() * 10);
}

TEST_CASE("watch table: a retry keeps only the users still watched", "[watch]") {
  WatchTable t;
  t.set(1, {"a", "b"});
  t.set(2, {"b"});
  t.set(1, {});
  CHECK(t.stillWatched({"a", "b", "c"}) == Strings{"b"});
  t.clear(2);
  CHECK(t.stillWatched({"a", "b"}).empty());
}

TEST_CASE("watch table: users with a few watchers, then many, then few again, against a model", "[watch]") {
  WatchTable t;
  std::map<int32_t, std::set<std::string>> model;  // connection -> its users
  std::mt19937 rng(7);
  for (int round = 0; round < 20000; ++round) {
    const int32_t fd = static_cast<int32_t>(rng() % 60);
    if (rng() % 4 == 0) {
      t.clear(fd);
      model.erase(fd);
      continue;
    }
    Strings list;
    for (uint32_t n = rng() % 7; n > 0; --n) list.push_back("v" + std::to_string(rng() % (round < 10000 ? 40 : 8)));
    t.set(fd, list);
    model[fd] = std::set<std::string>(list.begin(), list.end());
    if (model[fd].empty()) model.erase(fd);
  }
  std::map<std::string, std::set<int32_t>> watchers;
  size_t pairs = 0;
  for (const auto& [fd, users] : model) {
    for (const std::string& u : users) watchers[u].insert(fd);
    pairs += users.size();
  }
  CHECK(t.watches() == pairs);
  CHECK(t.users() == watchers.size());
  for (const auto& [u, fds] : watchers) {
    t.update(u, {State::Offline, 1});
    std::vector<int32_t> told = t.update(u, {State::Online, 0});
    CHECK(std::set<int32_t>(told.begin(), told.end()) == fds);
    CHECK(told.size() == fds.size());
  }
}
