#include "broadcast/inbox_router.h"

#include <catch2/catch.hpp>

using webim::hub::InboxRouter;

TEST_CASE("a user's inbox is routed to every frontend holding it, once each", "[inbox_router]") {
  InboxRouter router;
  router.attach("fe1", "42");
  router.attach("fe2", "42");
  router.attach("fe1", "42");  // twice: still once
  router.attach("fe1", "7");
  CHECK(router.holders("42") == std::vector<std::string>{"fe1", "fe2"});
  CHECK(router.holders("7") == std::vector<std::string>{"fe1"});
  CHECK(router.holders("nobody").empty());
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
  CHECK(router.holders("42") == std::vector<std::string>{"fe2"});
  router.forgetFrontend("fe2");
  CHECK(router.holders("42").empty());
  CHECK(router.holders("7").empty());
  CHECK(router.users() == 0);
  CHECK(router.frontends() == 0);
  router.forgetFrontend("fe9");  // never seen: no-op
}
