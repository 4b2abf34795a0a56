// Read cursors, the pure parts (broadcast/read_cursors.h): the cursor arithmetic, a batch's
// coalescing, dm peers, the app's replies; the client and app request decoding of read/unread;
// the RocksDB record and the PostgreSQL commit rows of a cursor.
#include <catch2/catch.hpp>

#include "broadcast/app_request.h"
#include "broadcast/postgres_batch.h"
#include "broadcast/read_cursors.h"
#include "broadcast/rocksdb_records.h"
#include "common/client_request.h"

using namespace webim;
using namespace webim::hub;

TEST_CASE("a cursor only moves forward and never past the last seq", "[read_cursors]") {
  CHECK(advanceCursor(0, 3, 5) == 3);
  CHECK(advanceCursor(3, 2, 5) == 3);   // lower: unchanged
  CHECK(advanceCursor(3, 99, 5) == 5);  // clamped
  CHECK(advanceCursor(0, 7, 0) == 0);   // a channel never written
  CHECK(advanceCursor(6, 9, 5) == 6);   // never moved back, even when past the last seq
  CHECK(unreadCount(2, 5) == 3);
  CHECK(unreadCount(5, 5) == 0);
  CHECK(unreadCount(6, 5) == 0);
}

TEST_CASE("many reads of one key in a batch coalesce into its final value", "[read_cursors]") {
  BatchCursors b;
  const std::string k = BatchCursors::key("room:1", "alice");
  b.setStored(k, 4);
  b.setStored(k, 99);  // set once: the first value stays
  CHECK(b.current(k) == 4);
  CHECK(b.apply(k, 2, 10) == std::pair<uint64_t, bool>{4, false});
  CHECK(b.apply(k, 6, 10) == std::pair<uint64_t, bool>{6, true});
  CHECK(b.apply(k, 8, 10) == std::pair<uint64_t, bool>{8, true});
  CHECK(b.apply(k, 7, 10) == std::pair<uint64_t, bool>{8, false});
  const std::string other = BatchCursors::key("room:1", "bob");
  b.setStored(other, 3);
  b.apply(other, 1, 10);
  std::vector<std::pair<std::string, uint64_t>> moved;
  b.forEachMoved([&](const std::string& key, uint64_t v) { moved.emplace_back(key, v); });
  CHECK(moved == std::vector<std::pair<std::string, uint64_t>>{{k, 8}});
  CHECK(b.moved(k));
  CHECK_FALSE(b.moved(other));
  CHECK(BatchCursors::key("a", "b:c") != BatchCursors::key("a:b", "c"));
}

TEST_CASE("the peer of a dm: channel", "[read_cursors]") {
  CHECK(dmPeer("dm:alice:bob", "alice") == "bob");
  CHECK(dmPeer("dm:alice:bob", "bob") == "alice");
  CHECK(dmPeer("dm:alice:bob", "carol").empty());
  CHECK(dmPeer("room:alice:bob", "alice").empty());
  CHECK(dmPeer("dm:alice", "alice").empty());
  // Malformed dm names (no browser may subscribe to them: common/channel_rules.h) have no peer.
  CHECK(dmPeer("dm:bob:alice", "bob").empty());
  CHECK(dmPeer("dm:alice:bob:carol", "alice").empty());
  CHECK(dmPeer("dm::bob", "bob").empty());
  CHECK(dmPeer("dm:alice:", "alice").empty());
}

TEST_CASE("the app's read and unread replies", "[read_cursors]") {
  CHECK(encodeReadOk(7) == R"({"ok":true,"seq":7})");
  UnreadRequest u;
  u.user = "alice";
  u.channels = {"room:1", "dm:alice:bob"};
  u.counts = {3, 0};
  u.reads = {4, 9};
  u.peerReads = {0, 8};
  CHECK(encodeUnreadOk(u) ==
        R"({"ok":true,"unread":{"room:1":3,"dm:alice:bob":0},"read":{"room:1":4,"dm:alice:bob":9},"peer_read":{"dm:alice:bob":8}})");
}

TEST_CASE("client read and unread requests decode, and refuse bad input", "[read_cursors]") {
  RequestDecoder decoder;
  ClientRequest r;
  REQUIRE(decoder.decode(R"({"op":"read","id":1,"ch":"room:1","seq":42})", r).ok());
  CHECK(r.op == ClientOp::Read);
  CHECK(r.ch == "room:1");
  CHECK(r.seq == 42);
  CHECK_FALSE(decoder.decode(R"({"op":"read","id":1,"ch":"room:1"})", r).ok());
  CHECK_FALSE(decoder.decode(R"({"op":"read","id":1,"ch":"room:1","seq":-1})", r).ok());
  CHECK_FALSE(decoder.decode(R"({"op":"read","id":1,"ch":"room:1","seq":"1"})", r).ok());
  CHECK_FALSE(decoder.decode(R"({"op":"read","id":1,"seq":1})", r).ok());

  REQUIRE(decoder.decode(R"({"op":"unread","id":2,"chs":["room:1","dm:a:b"]})", r).ok());
  CHECK(r.op == ClientOp::Unread);
  CHECK(r.chs == std::vector<std::string_view>{"room:1", "dm:a:b"});
  CHECK_FALSE(decoder.decode(R"({"op":"unread","id":2,"chs":[]})", r).ok());
  CHECK_FALSE(decoder.decode(R"({"op":"unread","id":2,"chs":"room:1"})", r).ok());
  CHECK_FALSE(decoder.decode(R"({"op":"unread","id":2,"chs":[1]})", r).ok());
  CHECK_FALSE(decoder.decode(R"({"op":"unread","id":2})", r).ok());
  std::string many = R"({"op":"unread","id":3,"chs":[)";
  for (int i = 0; i < 501; ++i) many += (i ? ",\"room:" : "\"room:") + std::to_string(i) + "\"";
  many += "]}";
  DecodeError e = decoder.decode(many, r);
  CHECK(e.tooLarge);
  CHECK(r.id == 3);
}

TEST_CASE("app read and unread requests decode, and refuse bad input", "[read_cursors]") {
  AppRequestDecoder decoder(1024);
  AppRequest out;
  REQUIRE(decoder.decode(R"({"op":"read","user":"u1","ch":"room:1","seq":5})", out).ok());
  const auto& read = std::get<AppRead>(out);
  CHECK(read.user == "u1");
  CHECK(read.channel == "room:1");
  CHECK(read.seq == 5);
  REQUIRE(decoder.decode(R"({"op":"unread","user":"u1","chs":["room:1","room:2"]})", out).ok());
  CHECK(std::get<AppUnread>(out).channels == std::vector<std::string>{"room:1", "room:2"});
  CHECK(decoder.decode(R"({"op":"read","ch":"room:1","seq":5})", out).code == "bad_request");
  CHECK(decoder.decode(R"({"op":"read","user":"u1","ch":"bad name","seq":5})", out).code == "bad_request");
  CHECK(decoder.decode(R"({"op":"unread","user":"u1","chs":["bad name"]})", out).code == "bad_request");
  CHECK(decoder.decode(R"({"op":"unread","user":"u1","chs":[]})", out).code == "bad_request");
  std::string many = R"({"op":"unread","user":"u1","chs":[)";
  for (int i = 0; i < 501; ++i) many += (i ? ",\"room:" : "\"room:") + std::to_string(i) + "\"";
  many += "]}";
  CHECK(decoder.decode(many, out).code == "too_large");
  // The expanded list does not leak into the other ops' fields.
  REQUIRE(decoder.decode(R"({"op":"pub","ch":"room:1","data":{"chs":["x"],"user":"y"}})", out).ok());
}

TEST_CASE("a cursor's RocksDB key and record, and its PostgreSQL rows", "[read_cursors]") {
  CHECK(rocks::cursorKey("room:1", "alice") == std::string("kroom:1\0alice", 13));
  CHECK(rocks::decodeCursor(rocks::encodeCursor(0x0102030405060708ull)) == 0x0102030405060708ull);
  CHECK_THROWS_AS(rocks::decodeCursor("x"), HistoryStoreError);
  WriteSet ws;
  ws.cursors = {{"room:1", "alice", 3}, {"dm:a:b", "b", 9}};
  CHECK_FALSE(ws.empty());
  pg::CommitArrays a = pg::commitArrays(ws);
  CHECK(a.cursorRows == 2);
  CHECK(a.messageRows == 0);
}
