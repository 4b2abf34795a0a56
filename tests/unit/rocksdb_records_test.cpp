// The RocksDB record encoding (and the format-0 messages it migrates from) and the ordering of
// the stores' migration lists. Pure: no I/O.
#include <catch2/catch.hpp>

#include <string>

#include "broadcast/rocksdb_migrations.h"
#include "broadcast/rocksdb_records.h"
#include "broadcast/store_migration.h"

using namespace webim::hub;
using namespace std::string_literals;

namespace {

// A protobuf encoder for the test's format-0 records (field numbers of the old Delivery).
void varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void bytesField(std::string& out, int field, const std::string& v) {
  varint(out, static_cast<uint64_t>(field) << 3 | 2);
  varint(out, v.size());
  out += v;
}
std::string legacyDelivery(const StoredMessage& m) {
  std::string out;
  bytesField(out, 1, m.channel);
  out.push_back(0x11);  // field 2, fixed64
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(m.epoch >> (8 * i)));
  varint(out, 3 << 3);
  varint(out, m.seq);
  bytesField(out, 4, m.from);
  varint(out, 5 << 3);
  varint(out, static_cast<uint64_t>(m.tsMs));
  bytesField(out, 6, m.data);
  return out;
}

struct Step {
  uint32_t version;
};

}  // namespace

TEST_CASE("message records round-trip, the channel is the key's", "[store_records]") {
  const StoredMessage m{"room:a", 0xfedcba9876543210ull, 42, "u\0x"s, -5, "{\"a\":\"\xff\"}"};
  const std::string record = rocks::encodeMessage(m);
  CHECK(record[0] == rocks::kRecordVersion);
  CHECK(record.size() == 1 + 8 + 8 + 8 + 4 + m.from.size() + m.data.size());
  CHECK(rocks::decodeMessage("room:a", record) == m);
  CHECK(rocks::decodeMessageTs(record) == -5);
  CHECK(rocks::decodeMessage("room:a", rocks::encodeMessage({"room:a", 1, 1, "", 0, ""})).data.empty());
  CHECK_FALSE(rocks::isLegacyMessage(record));
}

TEST_CASE("corrupt or unknown records are refused", "[store_records]") {
  const std::string record = rocks::encodeMessage({"c", 1, 2, "from", 3, "data"});
  CHECK_THROWS_AS(rocks::decodeMessage("c", record.substr(0, 20)), HistoryStoreError);
  std::string badFrom = record;
  badFrom[28] = 100;  // from_len beyond the record
  CHECK_THROWS_AS(rocks::decodeMessage("c", badFrom), HistoryStoreError);
  std::string v2 = record;
  v2[0] = 2;  // a layout this binary does not know
  CHECK_THROWS_AS(rocks::decodeMessage("c", v2), HistoryStoreError);
  CHECK_THROWS_AS(rocks::decodeMeta("\x01"s), HistoryStoreError);
  CHECK_THROWS_AS(rocks::decodeDedup(std::string(10, '\1')), HistoryStoreError);
  CHECK_THROWS_AS(rocks::decodeRevocation(std::string(8, '\1')), HistoryStoreError);
  CHECK_THROWS_AS(rocks::decodeFormatVersion("123"), HistoryStoreError);
}

TEST_CASE("meta, dedup, revocation and version records round-trip", "[store_records]") {
  CHECK(rocks::decodeMeta(rocks::encodeMeta({UINT64_MAX, 7})) == ChannelMeta{UINT64_MAX, 7});
  const DedupRecord d{"room:\xe2\x98\x83", 9, 10, INT64_MIN};
  CHECK(rocks::decodeDedup(rocks::encodeDedup(d)) == d);
  CHECK(rocks::decodeRevocation(rocks::encodeRevocation(-1)) == -1);
  CHECK(rocks::decodeFormatVersion(rocks::encodeFormatVersion(0x01020304)) == 0x01020304);
  // The layouts format 0 wrote, byte for byte (the fixture store has them too).
  CHECK(rocks::encodeMeta({1, 2}) == "\x01\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\x02"s);
  CHECK(rocks::encodeRevocation(3) == "\x01\0\0\0\0\0\0\0\x03"s);
}

TEST_CASE("message keys sort by channel, then seq", "[store_records]") {
  CHECK(rocks::messageKey("a", 1) < rocks::messageKey("a", 256));
  CHECK(rocks::messageKey("a", UINT64_MAX) < rocks::channelEnd("a"));
  CHECK(rocks::channelEnd("a") < rocks::messageKey("a\x01", 0));  // "a"'s range never holds "a\x01"'s keys
  CHECK(rocks::messageKey("a", 0).rfind(rocks::channelPrefix("a"), 0) == 0);
  CHECK(rocks::messageKeySeq(rocks::messageKey("room", 0x0102030405060708ull)) == 0x0102030405060708ull);
  CHECK(rocks::dedupKey("u", "c") == "du\0c"s);
  CHECK(rocks::metaKey("x") == "cx");
  CHECK(rocks::revocationKey("42") == "r42");
}

TEST_CASE("format-0 messages (wire Deliveries) are read without the generated code", "[store_records]") {
  const StoredMessage m{"room:a", 0x8000000000000001ull, 300, "php", -2, "{\"n\":12345678901234567890}"};
  const std::string legacy = legacyDelivery(m);
  CHECK(rocks::isLegacyMessage(legacy));
  CHECK(rocks::decodeLegacyDelivery(legacy) == m);
  // Fields left at their defaults are absent from a protobuf; unknown fields are skipped.
  std::string sparse;
  bytesField(sparse, 1, "c");
  varint(sparse, 7 << 3);  // field 7 (sync), varint
  varint(sparse, 1);
  CHECK(rocks::decodeLegacyDelivery(sparse) == StoredMessage{"c", 0, 0, "", 0, ""});
  CHECK_FALSE(rocks::decodeLegacyDelivery(legacy.substr(0, legacy.size() - 1)));  // truncated
  CHECK_FALSE(rocks::decodeLegacyDelivery("\x0f"s));                              // wire type 7
  CHECK_FALSE(rocks::decodeLegacyDelivery("\x00"s));                              // field 0
}

TEST_CASE("migrations: the steps above the stored version, in order", "[store_migration]") {
  const std::vector<Step> steps = {{1}, {2}, {3}};
  auto pending = pendingMigrations(steps, 0, "store");
  REQUIRE(pending.size() == 3);
  CHECK(pending[0]->version == 1);
  CHECK(pending[2]->version == 3);
  pending = pendingMigrations(steps, 2, "store");
  REQUIRE(pending.size() == 1);
  CHECK(pending[0]->version == 3);
  CHECK(pendingMigrations(steps, 3, "store").empty());
}

TEST_CASE("migrations: a newer store is refused, a misnumbered list is a bug", "[store_migration]") {
  const std::vector<Step> steps = {{1}, {2}};
  CHECK_THROWS_WITH(pendingMigrations(steps, 3, "store /data"),
                    Catch::Contains("store /data is at version 3, newer than this webim-broadcast knows (2)"));
  CHECK_THROWS_AS(pendingMigrations(std::vector<Step>{{1}, {3}}, 0, "s"), HistoryStoreError);
  CHECK_THROWS_AS(pendingMigrations(std::vector<Step>{{2}, {1}}, 0, "s"), HistoryStoreError);
}

TEST_CASE("the RocksDB migration list is numbered 1..N", "[store_migration]") {
  CHECK(pendingMigrations(rocks::migrations(), 0, "s").size() == rocks::latestFormat());
  CHECK(rocks::latestFormat() >= 1);
}
