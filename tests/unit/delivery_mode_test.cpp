#include <catch2/catch.hpp>

#include "broadcast/delivery_mode.h"

using namespace webim::hub;

TEST_CASE("fast namespaces: the part of the channel name before its first ':'", "[delivery_mode]") {
  DeliveryModes modes;
  REQUIRE(modes.parse({"room", "live.v2", "room"}).empty());
  CHECK(modes.fastNamespaces() == std::vector<std::string>{"room", "live.v2"});
  CHECK(modes.anyFast());
  CHECK(modes.fast("room:7"));
  CHECK(modes.fast("room:a:b"));
  CHECK(modes.fast("live.v2:x"));
  CHECK_FALSE(modes.fast("rooms:7"));
  CHECK_FALSE(modes.fast("roo:7"));
  CHECK_FALSE(modes.fast("room"));  // no namespace
  CHECK_FALSE(modes.fast("dm:a:b"));
  DeliveryModes none;
  REQUIRE(none.parse({}).empty());
  CHECK_FALSE(none.anyFast());
  CHECK_FALSE(none.fast("room:7"));
}

TEST_CASE("fast namespaces: what is not a namespace is refused with the reason", "[delivery_mode]") {
  for (const char* bad : {"", "room:", "room:*", "a b", "*"}) {
    DeliveryModes modes;
    CHECK_THAT(modes.parse({bad}), Catch::Contains("is not a namespace"));
  }
  CHECK_FALSE(DeliveryModes().parse({std::string(65, 'a')}).empty());
}

TEST_CASE("generational namespaces: the fast ones this run publishes early, and every one recorded before", "[delivery_mode]") {
  DeliveryModes modes;
  REQUIRE(modes.parse({"room"}).empty());
  modes.settle(true, {"live", "room", "bad ns", ""});
  CHECK(modes.fast("room:1"));
  CHECK_FALSE(modes.fast("live:1"));  // no longer configured: durable...
  CHECK(modes.generational("live:1"));  // ...but its epochs stay generational
  CHECK(modes.generational("room:1"));
  CHECK_FALSE(modes.generational("dm:a:b"));
  CHECK(modes.generationalNamespaces() == std::vector<std::string>{"room", "live"});
  // Without a sync step nothing is published early: a configured namespace is not fast and does
  // not become generational; the recorded ones stay.
  DeliveryModes noSync;
  REQUIRE(noSync.parse({"room"}).empty());
  noSync.settle(false, {"live"});
  CHECK_FALSE(noSync.anyFast());
  CHECK_FALSE(noSync.generational("room:1"));
  CHECK(noSync.generational("live:1"));
}

TEST_CASE("namespace lists join and split", "[delivery_mode]") {
  CHECK(joinNamespaces({"a", "b.c"}) == "a,b.c");
  CHECK(joinNamespaces({}).empty());
  CHECK(splitNamespaces("a,b.c,,a") == std::vector<std::string>{"a", "b.c"});
  CHECK(splitNamespaces("").empty());
}
