#include "broadcast/inbox_router.h"

#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <set>
#include <string>

using webim::hub::InboxRouter;

namespace {

std::set<std::string> holders(const InboxRouter& router, const std::string& user) {
  std::set<std::string> out;
  size_t calls = 0;
  router.forEachHolder(user, [&](std::string_view frontend) {
    out.emplace(frontend);
    ++calls;
  });
  CHECK(calls == out.size());  // once each
  return out;
}

}  // namespace

TEST_CASE("a user's inbox is routed to every frontend holding it, once each", "[inbox_router]") {
  InboxRouter router;
  router.attach("fe1", "42");
  router.attach("fe2", "42");
  router.attach("fe1", "42");  // twice: still once
  router.attach("fe1", "7");
  CHECK(holders(router, "42") == std::set<std::string>{"fe1", "fe2"});
  CHECK(holders(router, "7") == std::set<std::string>{"fe1"});
  CHECK(holders(router, "nobody").empty());
  CHECK(router.users() == 2);
  CHECK(router.frontends() == 2);
}

TEST_CASE("detach and forgetting a frontend remove exactly its routes", "[inbox_router]") {
  InboxRouter router;
  router.attach("fe1", "42");
  router.attach("fe2", "42");
  router.attach("fe2", "7");
  router.detach("fe1", "42");
  router.detach("fe1", "42");  // unknown now: no-op
  router.detach("fe9", "42");  // never seen: no-op
  CHECK(holders(router, "42") == std::set<std::string>{"fe2"});
  CHECK(router.frontends() == 1);  // fe1 holds nobody now
  router.forgetFrontend("fe2");
  // Routes end at once; the entries go with the walk.
  CHECK(holders(router, "42").empty());
  CHECK(holders(router, "7").empty());
  CHECK(router.frontends() == 0);
  CHECK(router.forgetting());
  router.finishForgetting();
  CHECK(router.users() == 0);
  router.forgetFrontend("fe9");  // never seen: no-op
  CHECK_FALSE(router.forgetting());
}

TEST_CASE("more than three holders spill out of the inline ones and back", "[inbox_router]") {
  InboxRouter router;
  std::set<std::string> all;
  for (int i = 0; i < 6; ++i) {
    std::string fe = "fe" + std::to_string(i);
    router.attach(fe, "42");
    router.attach(fe, "42");
    all.insert(fe);
    CHECK(holders(router, "42") == all);
  }
  router.attach("fe0", "7");
  // Out of the inline ones (one takes a spilled one's place) and out of the spilled ones.
  for (const char* fe : {"fe1", "fe5", "fe0", "fe3", "fe2"}) {
    router.detach(fe, "42");
    all.erase(fe);
    CHECK(holders(router, "42") == all);
  }
  CHECK(router.users() == 2);
  CHECK(router.frontends() == 2);  // fe4 (42) and fe0 (7)
  for (int i = 0; i < 5; ++i) router.attach("fe" + std::to_string(i), "42");
  router.forgetFrontend("fe4");
  CHECK(holders(router, "42") == std::set<std::string>{"fe0", "fe1", "fe2", "fe3"});
  router.forgetFrontend("fe0");
  CHECK(holders(router, "42") == std::set<std::string>{"fe1", "fe2", "fe3"});
  CHECK(holders(router, "7").empty());
  router.finishForgetting();
  CHECK(holders(router, "42") == std::set<std::string>{"fe1", "fe2", "fe3"});
  CHECK(router.users() == 1);
  CHECK(router.frontends() == 3);
}

TEST_CASE("a forgotten frontend's index is reused without mixing up names", "[inbox_router]") {
  InboxRouter router;
  router.attach("fe1", "a");
  router.attach("fe2", "b");
  router.forgetFrontend("fe1");
  router.finishForgetting();
  router.attach("fe3", "c");  // takes fe1's index
  router.attach("fe1", "d");  // a new index
  CHECK(holders(router, "a").empty());
  CHECK(holders(router, "b") == std::set<std::string>{"fe2"});
  CHECK(holders(router, "c") == std::set<std::string>{"fe3"});
  CHECK(holders(router, "d") == std::set<std::string>{"fe1"});
  router.detach("fe3", "c");  // its last user: its index is free again
  router.attach("fe4", "a");
  CHECK(holders(router, "a") == std::set<std::string>{"fe4"});
  CHECK(holders(router, "c").empty());
  CHECK(router.frontends() == 3);
}

TEST_CASE("past 65,535 frontends holding users, an attach from a new one is refused", "[inbox_router]") {
  InboxRouter router;
  for (size_t i = 0; i < InboxRouter::kMaxFrontends; ++i) {
    REQUIRE(router.attach("fe" + std::to_string(i), "u" + std::to_string(i)));
  }
  CHECK_FALSE(router.attach("one-too-many", "x"));
  CHECK(holders(router, "x").empty());
  CHECK(router.users() == InboxRouter::kMaxFrontends);
  CHECK(router.attach("fe7", "x"));  // a known one still attaches
  router.forgetFrontend("fe7");
  CHECK_FALSE(router.attach("one-too-many", "x"));  // its index is free once its users are walked
  router.finishForgetting();
  CHECK(router.attach("one-too-many", "x"));
  CHECK(holders(router, "x") == std::set<std::string>{"one-too-many"});
  CHECK(router.frontends() == InboxRouter::kMaxFrontends);
}

TEST_CASE("random attaches, detaches and forgets agree with a plain map", "[inbox_router]") {
  InboxRouter router;
  std::map<std::string, std::set<std::string>> model;  // user -> frontends
  std::map<std::string, int> held;  // frontend -> its users in `model` (never 0)
  std::mt19937 rng(20240611);
  // With a forget every ~500 ops this keeps ~650 users held, mostly by 1-3 frontends and a few
  // dozen by 4-5 (spilled), like real tabs.
  std::uniform_int_distribution<int> op(0, 999), user(0, 999), frontend(0, 19);
  for (int step = 0; step < 100000; ++step) {
    std::string u = "u" + std::to_string(user(rng));
    std::string fe = "fe" + std::to_string(frontend(rng));
    int kind = op(rng);
    if (kind < 150) {
      REQUIRE(router.attach(fe, u));
      if (model[u].insert(fe).second) ++held[fe];
    } else if (kind < 998) {
      router.detach(fe, u);
      if (auto it = model.find(u); it != model.end() && it->second.erase(fe)) {
        if (it->second.empty()) model.erase(it);
        if (--held[fe] == 0) held.erase(fe);
      }
    } else {
      router.forgetFrontend(fe);
      for (auto it = model.begin(); it != model.end();) {
        it = it->second.erase(fe) && it->second.empty() ? model.erase(it) : std::next(it);
      }
      held.erase(fe);
    }
    // The walk of forgotten frontends goes on in small slices between the other operations (the
    // hub's loop does one per iteration), while users attach, detach and move in the table.
    router.forgetStep(64);
    INFO("step " << step);
    // The touched user after every op (the only one an attach or detach changes); everyone every
    // 100 ops and after a forget.
    auto it = model.find(u);
    REQUIRE(holders(router, u) == (it == model.end() ? std::set<std::string>{} : it->second));
    if (!router.forgetting()) REQUIRE(router.users() == model.size());
    REQUIRE(router.frontends() == held.size());
    if (step % 100 == 0 || kind >= 998) {
      for (int i = 0; i < 1000; ++i) {
        std::string v = "u" + std::to_string(i);
        auto m = model.find(v);
        REQUIRE(holders(router, v) == (m == model.end() ? std::set<std::string>{} : m->second));
      }
    }
  }
}

TEST_CASE("a frontend forgotten in the middle of a growth, then re-attached, keeps everyone routed", "[inbox_router]") {
  InboxRouter router;
  // 50,000 users over 5 frontends; some ids kept on the table's heap.
  auto id = [](int i) { return i % 7 == 0 ? "user-with-a-long-id-" + std::to_string(i) : std::to_string(1000000 + i); };
  for (int i = 0; i < 50000; ++i) REQUIRE(router.attach("fe" + std::to_string(i % 5), id(i)));
  router.forgetFrontend("fe2");  // a restart: its 10,000 users go, then come back
  router.finishForgetting();
  CHECK(router.users() == 40000);
  CHECK(router.frontends() == 4);
  for (int i = 2; i < 50000; i += 5) REQUIRE(router.attach("fe2", id(i)));
  CHECK(router.users() == 50000);
  for (int i = 0; i < 50000; ++i) {
    REQUIRE(holders(router, id(i)) == std::set<std::string>{"fe" + std::to_string(i % 5)});
  }
  CHECK(router.tableBytes() <= 50000 * 25 + (50000 / 7 + 1) * 30);
}

TEST_CASE("a restarted frontend re-attaches while the walk of its previous process is under way", "[inbox_router]") {
  InboxRouter router;
  auto id = [](int i) { return i % 7 == 0 ? "user-with-a-long-id-" + std::to_string(i) : std::to_string(1000000 + i); };
  for (int i = 0; i < 30000; ++i) REQUIRE(router.attach("fe" + std::to_string(i % 3), id(i)));
  router.attach("fe1", id(0));  // fe0's user 0 is on fe1 too
  router.forgetFrontend("fe0");
  router.forgetStep(1000);  // a slice of the walk, then the new process comes back
  for (int i = 0; i < 30000; i += 6) REQUIRE(router.attach("fe0", id(i)));  // half of what it held
  router.forgetFrontend("fe2");  // another one goes meanwhile
  size_t slices = 0;
  while (router.forgetting()) {
    router.forgetStep(1000);
    ++slices;
    // Routing is right at every point of the walk.
    for (int i : {0, 3, 6, 9, 2, 5, 29998, 29997}) {
      std::set<std::string> want;
      if (i % 3 == 1 || i == 0) want.insert("fe1");
      if (i % 6 == 0) want.insert("fe0");
      REQUIRE(holders(router, id(i)) == want);
    }
  }
  CHECK(slices >= 10);  // sliced, not one walk
  CHECK(router.users() == 10000 + 5000);  // fe1's, and the half fe0 attached again (user 0 is fe1's too)
  CHECK(router.frontends() == 2);
  for (int i = 0; i < 30000; ++i) {
    std::set<std::string> want;
    if (i % 3 == 1 || i == 0) want.insert("fe1");
    if (i % 6 == 0) want.insert("fe0");
    REQUIRE(holders(router, id(i)) == want);
  }
}
