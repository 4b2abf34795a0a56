// The stores' pipelined commit (HistoryStore::write / sync / abandon), on RocksDB and PostgreSQL
// (STORE_TEST, store_test_support.h): a written batch is visible at once and durable after sync(),
// called from another thread; abandoned batches (their sync failed) are undone before the store
// answers again.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "broadcast/postgres_store.h"
#include "broadcast/rocksdb_store.h"
#include "tests/unit/store_test_support.h"

using namespace webim::hub;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t kEpoch = 42;
constexpr size_t kPageBytes = 1 << 20;

WriteSet batchOf(const std::string& ch, uint64_t from, uint64_t to) { return plainBatch(ch, from, to, kEpoch); }

// Calls f until it stops throwing (RocksDB's recovery backoff starts at 50 ms).
template <class F>
auto eventually(F&& f) {
  for (int i = 0;; ++i) {
    try {
      return f();
    } catch (const HistoryStoreError&) {
      if (i > 100) throw;
      std::this_thread::sleep_for(20ms);
    }
  }
}

}  // namespace

STORE_TEST("pipelined: a written batch is visible at once, and sync() from another thread makes it durable") {
  {
    auto opened = backend.open();
    HistoryStore& store = *opened;
    REQUIRE(store.pipelined());
    store.write(batchOf("room:a", 1, 3));
    CHECK(store.loadMeta("room:a") == ChannelMeta{kEpoch, 3});
    std::thread syncer([&] { store.sync(); });
    store.write(batchOf("room:b", 1, 1));  // beside the sync
    syncer.join();
    std::thread again([&] { store.sync(); });
    again.join();
  }
  auto reopened = backend.open();
  CHECK(reopened->loadMeta("room:a") == ChannelMeta{kEpoch, 3});
  CHECK(reopened->loadMeta("room:b") == ChannelMeta{kEpoch, 1});
  CHECK(reopened->readPage("room:a", {0, 0, 10, kPageBytes}).msgs.size() == 3);
}

STORE_TEST("pipelined: abandoned batches are undone before the store answers again") {
  auto opened = backend.open();
  HistoryStore& store = *opened;
  store.commit(batchOf("room:a", 1, 2), true);
  // Two batches written, their sync failed: outcome unknown.
  WriteSet lost1 = batchOf("room:a", 3, 4);
  WriteSet lost2 = batchOf("room:a", 5, 5);
  lost2.messages.push_back(StoredMessage{"room:new", kEpoch, 1, "u", 1000, "1"});
  lost2.metas.push_back({"room:new", {kEpoch, 1}});
  store.write(lost1);
  store.write(lost2);
  store.abandon(lost1);
  store.abandon(lost2);
  CHECK(eventually([&] { return store.loadMeta("room:a"); }) == ChannelMeta{kEpoch, 2});
  CHECK_FALSE(store.loadDedup("u", "room:a-3"));
  CHECK_FALSE(store.loadDedup("u", "room:a-5"));
  CHECK(store.readPage("room:a", {0, 0, 10, kPageBytes}).msgs.size() == 2);
  CHECK(store.loadMeta("room:new") == ChannelMeta{kEpoch, 0});  // its meta is put back at seq 0
  CHECK(store.readPage("room:new", {0, 0, 10, kPageBytes}).msgs.empty());
  // And writes go on.
  REQUIRE_NOTHROW(store.commit(batchOf("room:a", 3, 3), true));
  CHECK(store.loadMeta("room:a") == ChannelMeta{kEpoch, 3});
}

TEST_CASE("rocksdb: after a failed sync every read fails until the batch is undone", "[rocksdb][pipeline]") {
  TempDir dir;
  RocksDbHistoryStore store(dir.path.string());
  store.commit(batchOf("room:a", 1, 2), true);
  WriteSet lost = batchOf("room:a", 3, 4);
  store.write(lost);
  store.abandon(lost);
  // In the memtable: reads fail now rather than show a batch that may be lost.
  CHECK_THROWS_AS(store.loadMeta("room:a"), HistoryStoreError);
  CHECK_THROWS_AS(store.loadDedup("u", "room:a-3"), HistoryStoreError);
  CHECK_THROWS_AS(store.readPage("room:a", {0, 0, 10, kPageBytes}), HistoryStoreError);
  CHECK(eventually([&] { return store.loadMeta("room:a"); }) == ChannelMeta{kEpoch, 2});
  CHECK(store.recoveries() == 1);
}

STORE_TEST("pipelined: retention beside a batch in flight counts from the durable seq, so a failed sync loses nothing acked") {
  auto opened = backend.open();
  HistoryStore& store = *opened;
  store.commit(batchOf("room:a", 1, 3), true);  // acked: 1..3
  WriteSet inFlight = batchOf("room:a", 4, 6);
  store.write(inFlight);  // written, its sync pending: the store's meta says 6
  TrimRequest keep3;
  keep3.keepLast = 3;
  keep3.durableLast = 3;  // what the hub's sequencer knows is durable
  store.trimHistory("room:a", keep3);
  store.abandon(inFlight);  // the sync failed
  CHECK(eventually([&] { return store.loadMeta("room:a"); }) == ChannelMeta{kEpoch, 3});
  CHECK(store.readPage("room:a", {0, 0, 10, kPageBytes}).msgs.size() == 3);  // keepLast = 3 keeps them
}
