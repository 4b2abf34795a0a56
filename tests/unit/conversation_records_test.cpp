// The conversation index's RocksDB keys and records, its merge rules, DM notice records and the
// pure parts of conversations (docs/architecture.md "Conversations"). Pure: no I/O.
#include <catch2/catch.hpp>

#include <string>

#include "broadcast/conversation_records.h"
#include "broadcast/conversation_request.h"
#include "broadcast/rocksdb_records.h"
#include "common/client_request.h"
#include "common/token.h"

using namespace webim::hub;

TEST_CASE("a dm notice is a v2 message record: flag 8, the dm seq, the dm channel in place of data", "[conversations]") {
  StoredMessage notice{"user:bob", 7, 3, "alice", 1700000000000, ""};
  notice.noticeChannel = "dm:alice:bob";
  notice.noticeSeq = 42;
  const std::string record = rocks::encodeMessage(notice);
  CHECK(record[0] == rocks::kMessageRecordV2);
  CHECK(record.size() == 1 + 8 + 8 + 8 + 4 + 1 + 8 + 5 + 12);  // 55 bytes for this one
  CHECK(record[29] == 8);
  CHECK(rocks::decodeMessage("user:bob", record) == notice);
}

TEST_CASE("conversation keys: a user's order keys are one range, most recent first, ties by channel", "[conversations]") {
  CHECK(conv::entryKey("bob", "room:1") == std::string("vbob\0room:1", 11));
  const std::string newer = conv::orderKey("bob", 2000, "room:z");
  const std::string older = conv::orderKey("bob", 1000, "room:a");
  const std::string tieA = conv::orderKey("bob", 2000, "room:a");
  CHECK(newer > tieA);  // same ts: channel order
  CHECK(tieA < older);  // later ts first
  for (const std::string& k : {newer, older, tieA}) {
    CHECK(k >= conv::orderPrefix("bob"));
    CHECK(k < conv::orderEnd("bob"));
    CHECK_FALSE((k >= conv::orderPrefix("bo") && k < conv::orderEnd("bo")));  // "bob" is not in "bo"'s range
  }
  const ConversationItem item = conv::decodeOrder(newer, 3, conv::encodeOrder(17));
  CHECK(item == ConversationItem{"room:z", 2000, 17});
  CHECK(conv::decodeEntry("room:z", conv::encodeEntry(-5, 9)) == ConversationItem{"room:z", -5, 9});
  CHECK_THROWS_AS(conv::decodeEntry("room:z", "\x02"), HistoryStoreError);
  CHECK_THROWS_AS(conv::decodeOrder("Vbob", 3, conv::encodeOrder(1)), HistoryStoreError);
}

TEST_CASE("touches never move an entry back, and a batch's touches merge per (user, channel)", "[conversations]") {
  const ConversationItem stored{"room:1", 1000, 5};
  CHECK(conv::newer({"room:1", 1001, 1}, stored));
  CHECK(conv::newer({"room:1", 1000, 6}, stored));
  CHECK_FALSE(conv::newer({"room:1", 1000, 5}, stored));
  CHECK_FALSE(conv::newer({"room:1", 999, 9}, stored));
  CHECK(conv::newer({"room:1", 0, 0}, std::nullopt));
  const auto merged = conv::mergeTouches({{"bob", "room:1", 10, 1}, {"amy", "room:1", 5, 1}, {"bob", "room:1", 30, 3},
                                          {"bob", "room:1", 20, 2}, {"bob", "room:2", 1, 1}});
  REQUIRE(merged.size() == 3);
  CHECK(merged[0] == ConversationTouch{"bob", "room:1", 30, 3});
  CHECK(merged[1] == ConversationTouch{"amy", "room:1", 5, 1});
  CHECK(merged[2] == ConversationTouch{"bob", "room:2", 1, 1});
}

TEST_CASE("dm participants and notice inputs", "[conversations]") {
  CHECK(dmParticipants("dm:alice:bob") == std::make_pair(std::string("alice"), std::string("bob")));
  CHECK_FALSE(dmParticipants("room:a:b"));
  CHECK_FALSE(dmParticipants("dm:alice"));
  CHECK_FALSE(dmParticipants("dm::bob"));
  const PublishInput local = noticeInput("bob", "dm:alice:bob", 5, "alice", false);
  CHECK(local.channel == "user:bob");
  CHECK(local.from == "alice");
  CHECK(local.data.empty());
  CHECK(local.cid.empty());
  CHECK(local.noticeChannel == "dm:alice:bob");
  CHECK(local.noticeSeq == 5);
  const PublishInput remote = noticeInput("bob", "dm:alice:bob", 5, "alice", true);
  CHECK(remote.dedupFrom == std::string(kNoticeSender) + "bob");  // one dedup key per inbox
  CHECK(remote.cid == "dm:alice:bob#5");
  CHECK_FALSE(webim::isValidUserId(kNoticeSender));  // no token subject takes a notice's dedup key
  // The conversation's activity is the dm message's time when the notice carries it (a peer hub's),
  // else the time it is stored (a notice of the same shard is stored with its message).
  PublishInput carried = remote;
  carried.noticeTsMs = 1000;
  REQUIRE(noticeTouch(carried, 5000));
  CHECK(noticeTouch(carried, 5000)->tsMs == 1000);
  CHECK(noticeTouch(local, 5000)->tsMs == 5000);
  CHECK(noticeTouch(local, 5000)->user == "bob");
  PublishInput plain;
  plain.channel = "room:1";
  CHECK_FALSE(noticeTouch(plain, 5000));
}

TEST_CASE("the client's conversations request", "[conversations]") {
  webim::RequestDecoder decoder;
  webim::ClientRequest r;
  REQUIRE(decoder.decode(R"({"op":"conversations","id":1})", r).ok());
  CHECK(r.op == webim::ClientOp::Conversations);
  CHECK(r.limit == 50);
  CHECK_FALSE(r.hasBeforeItem);
  r = {};
  REQUIRE(decoder.decode(R"({"op":"conversations","id":2,"limit":100,"before":{"ts":-3,"ch":"room:x","y":1}})", r).ok());
  CHECK(r.limit == 100);
  CHECK(r.hasBeforeItem);
  CHECK(r.beforeTs == -3);
  CHECK(r.beforeCh == "room:x");
  for (const char* bad : {R"({"op":"conversations","id":3,"limit":0})", R"({"op":"conversations","id":3,"limit":101})",
                          R"({"op":"conversations","id":3,"before":5})", R"({"op":"conversations","id":3,"before":{"ts":1}})",
                          R"({"op":"conversations","id":3,"before":{"ts":1,"ts":2,"ch":"a"}})",
                          R"({"op":"conversations","id":3,"before":{"ts":"1","ch":"a"}})"}) {
    r = {};
    CHECK_FALSE(decoder.decode(bad, r).ok());
  }
  // hist's before is still an integer.
  r = {};
  REQUIRE(decoder.decode(R"({"op":"hist","id":4,"ch":"room:a","before":9})", r).ok());
  CHECK(r.before == 9u);
}
