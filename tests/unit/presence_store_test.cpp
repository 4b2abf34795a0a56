// Presence in both stores (docs/architecture.md "Presence"): last seen is written with a batch, the
// latest per user wins, it survives a reopen, and it is read for many users at once. RocksDB cases
// run by default; the PostgreSQL ones under the `postgres` CTest fixture (postgres.cmake).
#include <catch2/catch.hpp>

#include "broadcast/presence_records.h"
#include "store_test_support.h"

STORE_TEST("last seen: written with a batch, the latest per user, survives a reopen") {
  {
    auto opened = backend.open();
    HistoryStore& store = *opened;
    CHECK(store.loadLastSeen({"alice", "bob"}) == std::vector<int64_t>{0, 0});
    WriteSet ws;
    ws.lastSeen = {{"alice", 1000}, {"bob", 2000}, {"alice", 1500}};  // twice in one batch: the last
    REQUIRE_NOTHROW(store.commit(ws, true));
    WriteSet later = plainBatch("room:p", 1, 1, 7);  // rides with any batch
    later.lastSeen = {{"bob", 2500}};
    REQUIRE_NOTHROW(store.write(later));
    REQUIRE_NOTHROW(store.sync());
  }
  auto reopened = backend.open();
  CHECK(reopened->loadLastSeen({"bob", "carol", "alice", "bob"}) == std::vector<int64_t>{2500, 0, 1500, 2500});
  CHECK(reopened->loadLastSeen({}).empty());
}

STORE_TEST("last seen: 500 users in one read") {
  auto opened = backend.open();
  HistoryStore& store = *opened;
  WriteSet ws;
  std::vector<std::string> users;
  for (int i = 0; i < 500; ++i) {
    users.push_back("u" + std::to_string(i));
    if (i % 2 == 0) ws.lastSeen.push_back({users.back(), 10000 + i});
  }
  REQUIRE_NOTHROW(store.commit(ws, true));
  std::vector<int64_t> seen = store.loadLastSeen(users);
  REQUIRE(seen.size() == 500);
  for (int i = 0; i < 500; ++i) CHECK(seen[i] == (i % 2 == 0 ? 10000 + i : 0));
}

TEST_CASE("last-seen records: key, round trip, corrupt ones refused", "[presence]") {
  CHECK(lastSeenKey("7") == "p7");
  CHECK(decodeLastSeen(encodeLastSeen(1765000000123)) == 1765000000123);
  CHECK_THROWS_AS(decodeLastSeen("x"), HistoryStoreError);
  std::string v = encodeLastSeen(5);
  v[0] = 2;
  CHECK_THROWS_AS(decodeLastSeen(v), HistoryStoreError);
}
