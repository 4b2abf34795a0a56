// Edit and delete: the hub's pure checks (message_edits.h), the records both stores keep for them,
// and a delete's redaction read back from each store after it was closed and reopened (the
// original's data is gone; the entries stay). The STORE_TEST cases run on RocksDB and, tagged
// [postgres], on PostgreSQL (tests/integration/postgres.cmake).
#include <catch2/catch.hpp>

#include "broadcast/message_edits.h"
#include "broadcast/rocksdb_records.h"
#include "tests/unit/store_test_support.h"

using namespace webim::hub;

namespace {

constexpr uint64_t kEpoch = 0x0102030405060708ull;

StoredMessage message(uint64_t seq, std::string from, std::string data) {
  return StoredMessage{"room:e", kEpoch, seq, std::move(from), 1000 + static_cast<int64_t>(seq), std::move(data)};
}

PublishInput edit(uint64_t seq, std::string from) { return PublishInput{"room:e", std::move(from), "c1", "\"new\"", seq, 0}; }
PublishInput del(uint64_t seq, std::string from) { return PublishInput{"room:e", std::move(from), "c2", "", 0, seq}; }

}  // namespace

TEST_CASE("checkEdit: the author edits and deletes a live message, others, entries and deleted ones are refused",
          "[message_edits]") {
  const StoredMessage original = message(1, "alice", "\"old\"");
  CHECK_FALSE(checkEdit(edit(1, "alice"), &original, false, false));
  CHECK_FALSE(checkEdit(del(1, "alice"), &original, false, false));
  CHECK(checkEdit(edit(1, "bob"), &original, false, false)->code == "forbidden");
  CHECK(checkEdit(del(1, "bob"), &original, false, false)->code == "forbidden");
  CHECK_FALSE(checkEdit(edit(1, "system"), &original, false, true));  // the app: any author
  CHECK(checkEdit(edit(9, "alice"), nullptr, false, false)->code == "not_found");

  StoredMessage deleted = original;
  deleted.deleted = true;
  deleted.data.clear();
  CHECK(checkEdit(edit(1, "alice"), &deleted, false, false)->code == "forbidden");
  CHECK(checkEdit(del(1, "alice"), &deleted, false, true)->code == "forbidden");
  CHECK(checkEdit(edit(1, "alice"), &original, true, false)->code == "forbidden");  // deleted in this batch

  StoredMessage entry = message(2, "alice", "\"x\"");
  entry.editOf = 1;
  CHECK(checkEdit(edit(2, "alice"), &entry, false, false)->code == "bad_request");
  entry.editOf = 0;
  entry.deleteOf = 1;
  CHECK(checkEdit(del(2, "alice"), &entry, false, true)->code == "bad_request");
}

TEST_CASE("RocksDB records: plain messages stay v1, entries and deleted messages are v2 and read back",
          "[message_edits]") {
  const StoredMessage plain = message(1, "alice", "\"old\"");
  CHECK(rocks::encodeMessage(plain)[0] == 1);
  StoredMessage e = message(2, "alice", "\"new\"");
  e.editOf = 1;
  StoredMessage d = message(3, "alice", "");
  d.deleteOf = 1;
  StoredMessage gone = plain;
  gone.deleted = true;
  gone.data.clear();
  for (const StoredMessage& m : {e, d, gone}) {
    const std::string record = rocks::encodeMessage(m);
    CHECK(record[0] == 2);
    CHECK_FALSE(rocks::isLegacyMessage(record));
    CHECK(rocks::decodeMessage("room:e", record) == m);
    CHECK(rocks::decodeMessageTs(record) == m.tsMs);
  }
  CHECK_THROWS_AS(rocks::decodeMessage("room:e", rocks::encodeMessage(e).substr(0, 30)), HistoryStoreError);
}

STORE_TEST("edit and delete entries are stored, a delete's redaction removes the original's data") {
  {
    auto opened = backend.open();
    HistoryStore& store = *opened;
    WriteSet first;
    first.messages = {message(1, "alice", "\"secret\""), message(2, "bob", "\"keep\"")};
    first.metas = {{"room:e", {kEpoch, 2}}};
    store.commit(first, true);
    WriteSet second;
    StoredMessage e = message(3, "alice", "\"edited secret\"");
    e.editOf = 1;
    StoredMessage d = message(4, "alice", "");
    d.deleteOf = 1;
    second.messages = {e, d, message(5, "bob", "\"then deleted in its own batch\"")};
    second.metas = {{"room:e", {kEpoch, 5}}};
    second.redactions = {{"room:e", 1}, {"room:e", 5}};
    store.commit(second, true);
  }
  auto reopened = backend.open();  // read back after the writer closed the store
  HistoryStore& store = *reopened;
  HistoryPage page = store.readPage("room:e", {0, 0, 10, 1 << 20});
  REQUIRE(page.msgs.size() == 5);
  CHECK(page.msgs[0].deleted);
  CHECK(page.msgs[0].data.empty());
  CHECK(page.msgs[0].from == "alice");
  CHECK_FALSE(page.msgs[1].deleted);
  CHECK(page.msgs[1].data == "\"keep\"");
  CHECK(page.msgs[2].editOf == 1);
  CHECK(page.msgs[2].deleted);  // an edit of a deleted message loses its data too
  CHECK(page.msgs[2].data.empty());
  CHECK(page.msgs[3].deleteOf == 1);
  CHECK(page.msgs[3].data.empty());
  CHECK(page.msgs[4].deleted);
  CHECK(page.msgs[4].data.empty());
  std::optional<StoredMessage> one = store.loadMessage("room:e", 1);
  REQUIRE(one);
  CHECK(one->deleted);
  CHECK_FALSE(store.loadMessage("room:e", 6));
  CHECK_FALSE(store.loadMessage("room:none", 1));
}

STORE_TEST("a delete redacts the message's edits stored earlier and those of its own batch, not others") {
  auto opened = backend.open();
  HistoryStore& store = *opened;
  auto entry = [](uint64_t seq, uint64_t editOf, uint64_t deleteOf, std::string data) {
    StoredMessage m = message(seq, "alice", std::move(data));
    m.editOf = editOf;
    m.deleteOf = deleteOf;
    return m;
  };
  WriteSet first;
  first.messages = {message(1, "alice", "\"a\""), message(2, "alice", "\"b\""), entry(3, 1, 0, "\"a2\""),
                    entry(4, 2, 0, "\"b2\"")};
  first.metas = {{"room:e", {kEpoch, 4}}};
  store.commit(first, true);
  WriteSet second;
  second.messages = {entry(5, 1, 0, "\"a3\""), entry(6, 0, 1, "")};
  second.metas = {{"room:e", {kEpoch, 6}}};
  second.redactions = {{"room:e", 1}};
  store.commit(second, true);
  HistoryPage page = store.readPage("room:e", {0, 0, 10, 1 << 20});
  REQUIRE(page.msgs.size() == 6);
  for (uint64_t seq : {1, 3, 5}) CHECK(page.msgs[seq - 1].data.empty());
  for (uint64_t seq : {1, 3, 5}) CHECK(page.msgs[seq - 1].deleted);
  CHECK(page.msgs[1].data == "\"b\"");
  CHECK(page.msgs[3].data == "\"b2\"");
  CHECK_FALSE(page.msgs[3].deleted);
  CHECK(store.countSender("alice", 10) == 3);  // 2, 4 and the delete entry 6 are left in the index
}
