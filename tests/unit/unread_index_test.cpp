// Unread counts without edit and delete entries (HistoryStore::countUncounted, docs/architecture.md
// "Read cursors"): both stores count, per range (after, upTo] of a channel, the seqs that are no
// unread message (edit and delete entries, deleted and erased messages), after a reopen too; and a
// RocksDB store written before the unread index (format 2) gets it from migration step 3. The
// STORE_TEST cases run on RocksDB and, tagged [postgres], on PostgreSQL (tests/integration/postgres.cmake).
#include <catch2/catch.hpp>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <memory>

#include "broadcast/read_cursors.h"
#include "broadcast/rocksdb_migrations.h"
#include "broadcast/rocksdb_records.h"
#include "tests/unit/store_test_support.h"

using namespace webim::hub;

namespace {

constexpr uint64_t kEpoch = 0x0102030405060708ull;
using Ranges = std::vector<HistoryStore::SeqRange>;
using Counts = std::vector<uint64_t>;

StoredMessage message(uint64_t seq, std::string from, uint64_t editOf = 0, uint64_t deleteOf = 0) {
  StoredMessage m{"room:u", kEpoch, seq, std::move(from), 1000 + static_cast<int64_t>(seq), deleteOf ? "" : "\"x\""};
  m.editOf = editOf;
  m.deleteOf = deleteOf;
  return m;
}

// room:u: 1 alice, 2 bob, 3 edit of 1, 4 alice, 5 delete of 4 (4 redacted), 6 carol, 7 bob.
void writeChannel(HistoryStore& store) {
  WriteSet first;
  first.messages = {message(1, "alice"), message(2, "bob"), message(3, "alice", 1)};
  first.metas = {{"room:u", {kEpoch, 3}}};
  store.commit(first, true);
  WriteSet second;
  second.messages = {message(4, "alice"), message(5, "alice", 0, 4), message(6, "carol"), message(7, "bob")};
  second.metas = {{"room:u", {kEpoch, 7}}};
  second.redactions = {{"room:u", 4}};
  store.commit(second, true);
}

}  // namespace

TEST_CASE("unread: entries and deleted messages are taken off, never below 0", "[read_cursors]") {
  CHECK(withoutUncounted(unreadCount(2, 7), 3) == 2);
  CHECK(withoutUncounted(unreadCount(7, 7), 0) == 0);
  CHECK(withoutUncounted(3, 5) == 0);
}

STORE_TEST("unread index: edit and delete entries and deleted messages are counted by range, kept across a reopen") {
  {
    auto opened = backend.open();
    writeChannel(*opened);
    CHECK(opened->countUncounted({}).empty());
  }
  auto reopened = backend.open();
  HistoryStore& store = *reopened;
  const Ranges ranges = {{"room:u", 0, 7}, {"room:u", 2, 7}, {"room:u", 5, 7}, {"room:u", 3, 4},
                         {"room:u", 0, 2}, {"room:none", 0, 9}, {"room:u", 7, 7}, {"room:u", 0, 3}};
  CHECK(store.countUncounted(ranges) == Counts{3, 3, 0, 1, 0, 0, 0, 1});
  // Erasing a user removes their messages' data like a delete: no longer unread either.
  while (store.eraseSender("bob", 10).more) {
  }
  CHECK(store.countUncounted({{"room:u", 0, 7}, {"room:u", 5, 7}}) == Counts{5, 1});
}

// Many channels, ranges asked out of order and overlapping (two users' cursors of one channel),
// entries below the cursors (more than the iterator steps over before it seeks), channels with none.
STORE_TEST("unread index: many channels, overlapping ranges, entries below the cursor") {
  auto opened = backend.open();
  HistoryStore& store = *opened;
  WriteSet ws;
  auto add = [&](const std::string& ch, uint64_t seq, uint64_t editOf) {
    StoredMessage m = message(seq, "alice", editOf);
    m.channel = ch;
    ws.messages.push_back(m);
  };
  for (uint64_t s = 1; s <= 30; ++s) add("room:a", s, s > 1 && s <= 21 ? 1 : 0);  // 20 edits: seqs 2..21
  for (uint64_t s = 1; s <= 5; ++s) add("room:b", s, 0);                          // none
  for (uint64_t s = 1; s <= 6; ++s) add("room:c", s, s % 2 == 0 ? s - 1 : 0);     // edits: 2, 4, 6
  ws.metas = {{"room:a", {kEpoch, 30}}, {"room:b", {kEpoch, 5}}, {"room:c", {kEpoch, 6}}};
  store.commit(ws, true);
  const Ranges ranges = {{"room:c", 3, 6}, {"room:a", 0, 30}, {"room:b", 0, 5}, {"room:a", 15, 30}, {"room:a", 25, 30},
                         {"room:c", 0, 6},  {"room:a", 10, 12}, {"room:zz", 0, 9}, {"room:c", 5, 6}};
  CHECK(store.countUncounted(ranges) == Counts{2, 20, 0, 6, 0, 3, 2, 0, 1});
}

TEST_CASE("rocksdb: a format-2 store gets the unread index at open (migration step 3)", "[history_store][rocksdb]") {
  TempDir dir;
  {
    RocksDbHistoryStore store(dir.path.string());
    writeChannel(store);
  }
  {  // back to what a format-2 binary left: no 'x' keys, version 2
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::Options(), dir.path.string(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    rocksdb::WriteBatch wb;
    const std::string lower(1, rocks::kUncountedPrefix), upper(1, rocks::kUncountedPrefix + 1);
    wb.DeleteRange(lower, upper);
    wb.Put(std::string(rocks::kFormatVersionKey), rocks::encodeFormatVersion(2));
    REQUIRE(db->Write(rocksdb::WriteOptions(), &wb).ok());
    REQUIRE(db->Close().ok());
  }
  {
    rocksdb::DB* raw = nullptr;  // the keys are gone: without the step, nothing would be counted
    REQUIRE(rocksdb::DB::Open(rocksdb::Options(), dir.path.string(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::string value;
    CHECK(db->Get(rocksdb::ReadOptions(), rocks::uncountedKey("room:u", 3), &value).IsNotFound());
    REQUIRE(db->Close().ok());
  }
  RocksDbHistoryStore store(dir.path.string());
  CHECK(store.countUncounted({{"room:u", 0, 7}, {"room:u", 4, 7}}) == Counts{3, 1});
  CHECK(rocks::latestFormat() == 3);
}
