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

namespace {

std::string encoded(const StoredMessage& m) {
  std::string out(encodedDeliverySize(m), '\xee');
  char* end = encodeDelivery(m, out.data());
  CHECK(end == out.data() + out.size());  // exactly the size announced
  return out;
}

std::string viaProtobuf(const StoredMessage& m) {
  wire::Delivery d;
  toDelivery(m, d);
  return d.SerializeAsString();
}

}  // namespace

TEST_CASE("the encoded Delivery is byte for byte protobuf's encoding of the same message", "[delivery]") {
  const std::string big(70000, 'x');  // a length past one varint byte (and two)
  const StoredMessage cases[] = {
      sample(),
      StoredMessage{"inbox:bob", ~uint64_t{0}, ~uint64_t{0}, "b", INT64_MAX, big},
      StoredMessage{"c", 1, 127, "f", 128, std::string(127, 'y')},
      StoredMessage{"c", 1, 128, std::string(200, 'z'), 16383, std::string(128, '\0')},
      StoredMessage{"room:neg", 5, 1, "alice", -1, "d"},  // a negative int64 is a 10-byte varint
      StoredMessage{"", 0, 0, "", 0, ""},                // every field at its default: nothing
      StoredMessage{"room:1", 0, 0, "", 0, "only data"},
      // Edit and delete entries, and a deleted message (fields 15..17).
      StoredMessage{"room:e", 9, 3, "alice", 5, "\"new\"", 1, 0, false},
      StoredMessage{"room:e", 9, 4, "alice", 5, "", 0, 300, false},
      StoredMessage{"room:e", 9, 1, "alice", 5, "", 0, 0, true},
      StoredMessage{"room:e", 9, 5, "alice", 5, "", ~uint64_t{0}, ~uint64_t{0}, true},
      // DM notices (fields 18, 19: two-byte keys).
      StoredMessage{"user:bob", 9, 6, "alice", 5, "", 0, 0, false, "dm:alice:bob", 5},
      StoredMessage{"user:bob", 9, 7, "alice", 5, "", 0, 0, false, std::string(200, 'd'), ~uint64_t{0}},
  };
  for (const StoredMessage& m : cases) {
    CHECK(encoded(m) == viaProtobuf(m));
    wire::Delivery back;
    REQUIRE(back.ParseFromString(encoded(m)));
    CHECK(back.channel() == m.channel);
    CHECK(back.epoch() == m.epoch);
    CHECK(back.seq() == m.seq);
    CHECK(back.from() == m.from);
    CHECK(back.ts_ms() == m.tsMs);
    CHECK(back.data() == m.data);
    CHECK_FALSE(back.sync());
  }
}
