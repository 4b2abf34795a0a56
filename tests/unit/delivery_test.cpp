#include "broadcast/delivery.h"

#include <catch2/catch.hpp>

using namespace webim;
using namespace webim::hub;

namespace {

StoredMessage sample() { return StoredMessage{"room:1", 0x1122334455667788ULL, 9, "alice", 1700000000123, R"({"t":1})"}; }

}  // namespace

TEST_CASE("a stored message becomes the Delivery subscribers receive", "[delivery]") {
  const StoredMessage m = sample();
  wire::Delivery d;
  toDelivery(m, d);
  CHECK(d.channel() == "room:1");
  CHECK(d.epoch() == 0x1122334455667788ULL);
  CHECK(d.seq() == 9);
  CHECK(d.from() == "alice");
  CHECK(d.ts_ms() == 1700000000123);
  CHECK(d.data() == R"({"t":1})");
  CHECK_FALSE(d.sync());
  CHECK(m == sample());  // copied from an lvalue
}

TEST_CASE("a Delivery reused for the next message carries nothing of the previous one", "[delivery]") {
  wire::Delivery d;
  toDelivery(sample(), d);
  toDelivery(StoredMessage{"b", 1, 2, "x", 3, "4"}, d);
  CHECK(d.channel() == "b");
  CHECK(d.data() == "4");
  CHECK(d.from() == "x");
}

TEST_CASE("sync and boot markers are Deliveries with sync set and no data", "[delivery]") {
  wire::Delivery sync;
  REQUIRE(sync.ParseFromString(syncMarker("room:1", ChannelMeta{42, 7})));
  CHECK(sync.sync());
  CHECK(sync.channel() == "room:1");
  CHECK(sync.epoch() == 42);
  CHECK(sync.seq() == 7);
  CHECK(sync.data().empty());

  wire::Delivery boot;
  REQUIRE(boot.ParseFromString(bootMarker(0xfeed)));
  CHECK(boot.sync());
  CHECK(boot.epoch() == 0xfeed);
  CHECK(boot.channel().empty());
}
