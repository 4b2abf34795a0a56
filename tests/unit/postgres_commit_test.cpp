// The PostgreSQL store's commit: new messages and dedup records go in as plain INSERTs, and a
// batch that rewrites one of their keys is rolled back and sent again with the upserts
// (postgres_store.h), so a rewrite still replaces the record, whole batch or nothing.
#include <catch2/catch.hpp>

#include "broadcast/postgres_store.h"
#include "tests/unit/store_test_support.h"

using namespace webim::hub;

namespace {

constexpr uint64_t kEpoch = 7;
constexpr size_t kPageBytes = 1 << 20;

WriteSet batchOf(const std::string& ch, uint64_t from, uint64_t to) { return plainBatch(ch, from, to, kEpoch); }

std::vector<std::string> datas(const HistoryPage& page) {
  std::vector<std::string> out;
  for (const StoredMessage& m : page.msgs) out.push_back(m.data);
  return out;
}

}  // namespace

TEST_CASE("postgres: new keys take the plain inserts, a rewrite is retried with the upserts", "[history_store][.postgres]") {
  PgBackend backend;
  if (!backend.available()) {
    WARN(kPgSkip);
    return;
  }
  PostgresHistoryStore store(PostgresStoreOptions{backend.dsn()});
  REQUIRE_NOTHROW(store.commit(batchOf("room:p", 1, 3), true));
  REQUIRE_NOTHROW(store.commit(batchOf("room:p", 4, 5), true));
  CHECK(store.upsertRetries() == 0);

  SECTION("a message rewritten beside new ones: the whole batch lands once") {
    WriteSet ws = batchOf("room:p", 5, 7);
    ws.messages[0].data = "\"five again\"";
    REQUIRE_NOTHROW(store.commit(ws, true));
    CHECK(store.upsertRetries() == 1);
    auto page = store.readPage("room:p", {0, 0, 10, kPageBytes});
    CHECK(datas(page) == std::vector<std::string>{"1", "2", "3", "4", "\"five again\"", "6", "7"});
    CHECK(page.lastSeq == 7);
    CHECK(store.loadDedup("u", "room:p-7") == DedupRecord{"room:p", kEpoch, 7, 1000});
  }
  SECTION("an expired cid reused: the dedup record is replaced") {
    WriteSet ws = batchOf("room:q", 1, 1);
    ws.dedups.push_back({"u", "room:p-2", {"room:q", kEpoch, 1, 5000}});
    REQUIRE_NOTHROW(store.commit(ws, true));
    CHECK(store.upsertRetries() == 1);
    CHECK(store.loadDedup("u", "room:p-2") == DedupRecord{"room:q", kEpoch, 1, 5000});
    CHECK(store.loadMeta("room:q") == ChannelMeta{kEpoch, 1});
  }
  SECTION("written without sync (the pipelined write) the same way") {
    WriteSet ws = batchOf("room:p", 3, 3);
    ws.messages[0].data = "\"three again\"";
    REQUIRE_NOTHROW(store.commit(ws, false));
    CHECK(store.upsertRetries() == 1);
    CHECK(datas(store.readPage("room:p", {0, 0, 10, kPageBytes}))[2] == "\"three again\"");
  }
  // Later batches of new keys take the plain inserts again.
  REQUIRE_NOTHROW(store.commit(batchOf("room:p", 8, 9), true));
  CHECK(store.upsertRetries() <= 1);
  CHECK(store.loadMeta("room:p") == ChannelMeta{kEpoch, 9});
}

TEST_CASE("postgres: a batch that fails for another reason is not retried", "[history_store][.postgres]") {
  PgBackend backend;
  if (!backend.available()) {
    WARN(kPgSkip);
    return;
  }
  PostgresHistoryStore store(PostgresStoreOptions{backend.dsn()});
  WriteSet bad = batchOf("room:bad", 1, 1);
  bad.messages[0].channel = std::string("room:\xff", 6);  // not UTF-8: the text column refuses it
  CHECK_THROWS_AS(store.commit(bad, true), HistoryStoreError);
  CHECK(store.upsertRetries() == 0);
  CHECK_FALSE(store.loadMeta("room:bad"));  // rolled back whole
  REQUIRE_NOTHROW(store.commit(batchOf("room:bad", 1, 1), true));
  CHECK(store.loadMeta("room:bad") == ChannelMeta{kEpoch, 1});
}
