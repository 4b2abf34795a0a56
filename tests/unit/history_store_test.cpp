// Store contract tests, run against both HistoryStore backends: every STORE_TEST body runs once
// on RocksDB ("rocksdb: ..." cases, tag [rocksdb]) and once on PostgreSQL ("postgres: ..." cases,
// tag [postgres], hidden from the default run: tests/integration/postgres.cmake runs them under a
// CTest fixture that starts a throwaway server). Run standalone (`unit_history_store_test
// "[postgres]"`), the test starts its own server with tests/integration/pg_server.sh and stops it
// at exit; without PostgreSQL binaries each PG case says "postgres binaries not found" (a CTest
// skip) instead of passing silently.
#include <catch2/catch.hpp>

#include <algorithm>
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "broadcast/postgres_store.h"
#include "broadcast/rocksdb_store.h"
#include "tests/unit/store_test_support.h"

using namespace webim::hub;
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kEpoch = 0x1122334455667788ull;
// Dedup timestamps are "now": a store may treat records older than the dedup TTL as gone.
const int64_t kNow = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
constexpr size_t kPageBytes = 1 << 20;

StoredMessage msg(const std::string& ch, uint64_t seq, std::string data = "") {
  if (data.empty()) data = "{\"n\":" + std::to_string(seq) + "}";
  return StoredMessage{ch, kEpoch, seq, "u" + std::to_string(seq), 1000 + static_cast<int64_t>(seq), data};
}

// Appends seqs [from, to] of `ch` in one batch, with meta and one dedup record per message.
WriteSet batchOf(const std::string& ch, uint64_t from, uint64_t to) {
  WriteSet ws;
  for (uint64_t s = from; s <= to; ++s) {
    ws.messages.push_back(msg(ch, s));
    ws.dedups.push_back({"u", ch + "-" + std::to_string(s), {ch, kEpoch, s, kNow}});
  }
  ws.metas.push_back({ch, {kEpoch, to}});
  return ws;
}

std::vector<uint64_t> seqs(const HistoryPage& page) {
  std::vector<uint64_t> out;
  for (const auto& m : page.msgs) out.push_back(m.seq);
  return out;
}

}  // namespace

STORE_TEST("an empty store knows nothing") {
  auto opened = backend.open();
  HistoryStore& store = *opened;
  CHECK_FALSE(store.loadMeta("room:a"));
  CHECK_FALSE(store.loadDedup("u", "c"));
  auto page = store.readPage("room:a", {0, 0, 10, kPageBytes});
  CHECK(page.epoch == 0);
  CHECK(page.msgs.empty());
  CHECK_FALSE(page.more);
  CHECK(store.countChannels() == 0);
}

STORE_TEST("kick revocations: the latest per user, survive a reopen, trimmed by age") {
  std::vector<Revocation> got;
  {
    auto opened = backend.open();
    HistoryStore& store = *opened;
    CHECK(store.loadRevocations(0).empty());
    WriteSet ws;
    ws.revocations = {{"alice", 1000}, {"bob", 2000}};
    REQUIRE_NOTHROW(store.commit(ws, true));
    WriteSet later;
    later.revocations = {{"alice", 3000}};
    later.messages.push_back(msg("room:r", 1));  // rides with any batch
    later.metas.push_back({"room:r", {kEpoch, 1}});
    REQUIRE_NOTHROW(store.commit(later, true));
  }
  auto reopened = backend.open();
  HistoryStore& store = *reopened;
  got = store.loadRevocations(0);
  std::sort(got.begin(), got.end(), [](const Revocation& a, const Revocation& b) { return a.user < b.user; });
  CHECK(got == std::vector<Revocation>{{"alice", 3000}, {"bob", 2000}});
  CHECK(store.loadRevocations(2500) == std::vector<Revocation>{{"alice", 3000}});
  store.trimRevocations(2500);
  CHECK(store.loadRevocations(0) == std::vector<Revocation>{{"alice", 3000}});
  CHECK(store.readPage("room:r", {0, 0, 10, kPageBytes}).msgs.size() == 1);
}

STORE_TEST("loadMetas: many channels at once, in the order asked, absent ones empty") {
  auto opened = backend.open();
  HistoryStore& store = *opened;
  WriteSet ws;
  for (int i = 0; i < 300; i += 2) ws.metas.push_back({"user:" + std::to_string(i), {kEpoch + i, static_cast<uint64_t>(i)}});
  REQUIRE_NOTHROW(store.commit(ws, true));
  std::vector<std::string> asked;
  for (int i = 299; i >= 0; --i) asked.push_back("user:" + std::to_string(i));
  asked.push_back("user:4");  // twice
  auto metas = store.loadMetas(asked);
  REQUIRE(metas.size() == asked.size());
  for (size_t k = 0; k < 300; ++k) {
    int i = 299 - static_cast<int>(k);
    if (i % 2 == 0) {
      CHECK(metas[k] == ChannelMeta{kEpoch + i, static_cast<uint64_t>(i)});
    } else {
      CHECK_FALSE(metas[k]);
    }
  }
  CHECK(metas.back() == ChannelMeta{kEpoch + 4, 4});
  CHECK(store.loadMetas({}).empty());
}

STORE_TEST("the epoch seed is made once and kept with the store") {
  std::string seed;
  {
    auto opened = backend.open();
    seed = opened->epochSeed();
    CHECK(seed.size() >= 16);
    CHECK(opened->epochSeed() == seed);
  }
  auto reopened = backend.open();
  CHECK(reopened->epochSeed() == seed);
  CHECK(reopened->countChannels() == 0);  // not a channel
}

STORE_TEST("named values (the run marker) are kept with the store, overwritten, apart from the seed") {
  {
    auto opened = backend.open();
    CHECK_FALSE(opened->loadValue("run"));
    opened->storeValue("run", "running 00000000000000ab");
    opened->storeValue("run/s2", std::string("bytes\0and more", 14));
    opened->storeValue("run", "clean 00000000000000ab");
    CHECK(opened->loadValue("run") == "clean 00000000000000ab");
  }
  auto reopened = backend.open();
  CHECK(reopened->loadValue("run") == "clean 00000000000000ab");
  CHECK(reopened->loadValue("run/s2") == std::string("bytes\0and more", 14));
  CHECK_FALSE(reopened->loadValue("epoch_seed"));
  CHECK(reopened->countChannels() == 0);  // not a channel
  CHECK(reopened->listChannels("", 10).empty());
}

STORE_TEST("meta and dedup records round-trip") {
  auto opened = backend.open();
  HistoryStore& store = *opened;
  WriteSet ws;
  ws.metas.push_back({"room:a", {kEpoch, 42}});
  ws.dedups.push_back({"user-1", "cid:7", {"room:a", kEpoch, 42, kNow}});
  REQUIRE_NOTHROW(store.commit(ws, true));
  CHECK(store.loadMeta("room:a") == ChannelMeta{kEpoch, 42});
  CHECK(store.loadDedup("user-1", "cid:7") == DedupRecord{"room:a", kEpoch, 42, kNow});
  CHECK_FALSE(store.loadDedup("user-1", "cid:8"));
  CHECK_FALSE(store.loadDedup("user-", "1cid:7"));
  CHECK_FALSE(store.loadMeta("room:"));
}

STORE_TEST("pages after/before/limit/more, ascending by seq") {
  auto opened = backend.open();
  HistoryStore& store = *opened;
  REQUIRE_NOTHROW(store.commit(batchOf("room:1", 1, 10), true));
  REQUIRE_NOTHROW(store.commit(batchOf("room:10", 1, 3), false));  // must never leak into room:1
  REQUIRE_NOTHROW(store.commit(batchOf("room:1", 11, 12), true));

  auto all = store.readPage("room:1", {0, 0, 200, kPageBytes});
  CHECK(seqs(all) == std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  CHECK_FALSE(all.more);
  CHECK(all.epoch == kEpoch);
  CHECK(all.lastSeq == 12);
  CHECK(all.msgs[4] == msg("room:1", 5));

  auto after = store.readPage("room:1", {0, 3, 4, kPageBytes});
  CHECK(seqs(after) == std::vector<uint64_t>{4, 5, 6, 7});
  CHECK(after.more);
  auto tail = store.readPage("room:1", {0, 9, 4, kPageBytes});
  CHECK(seqs(tail) == std::vector<uint64_t>{10, 11, 12});
  CHECK_FALSE(tail.more);
  CHECK(store.readPage("room:1", {0, 12, 4, kPageBytes}).msgs.empty());

  auto before = store.readPage("room:1", {8, 0, 3, kPageBytes});
  CHECK(seqs(before) == std::vector<uint64_t>{5, 6, 7});
  CHECK(before.more);
  auto head = store.readPage("room:1", {4, 0, 10, kPageBytes});
  CHECK(seqs(head) == std::vector<uint64_t>{1, 2, 3});
  CHECK_FALSE(head.more);
  CHECK(store.readPage("room:1", {1, 0, 10, kPageBytes}).msgs.empty());
  auto latest = store.readPage("room:1", {UINT64_MAX, 0, 2, kPageBytes});
  CHECK(seqs(latest) == std::vector<uint64_t>{11, 12});

  CHECK(seqs(store.readPage("room:10", {0, 0, 200, kPageBytes})) == std::vector<uint64_t>{1, 2, 3});
  CHECK(store.countChannels() == 2);
}

STORE_TEST("a page stops at the byte bound but holds at least one message") {
  auto opened = backend.open();
  HistoryStore& store = *opened;
  WriteSet ws;
  for (uint64_t s = 1; s <= 4; ++s) ws.messages.push_back(msg("room:big", s, "\"" + std::string(1000, 'x') + "\""));
  ws.metas.push_back({"room:big", {kEpoch, 4}});
  REQUIRE_NOTHROW(store.commit(ws, true));
  auto page = store.readPage("room:big", {0, 0, 200, 2500});
  CHECK(seqs(page) == std::vector<uint64_t>{1, 2});
  CHECK(page.more);
  auto tiny = store.readPage("room:big", {0, 0, 200, 10});
  CHECK(seqs(tiny) == std::vector<uint64_t>{1});
  CHECK(tiny.more);
}

STORE_TEST("reopening keeps everything") {
  REQUIRE_NOTHROW(backend.open()->commit(batchOf("room:a", 1, 5), true));
  auto opened = backend.open();
  HistoryStore& store = *opened;
  CHECK(store.loadMeta("room:a") == ChannelMeta{kEpoch, 5});
  CHECK(store.loadDedup("u", "room:a-3") == DedupRecord{"room:a", kEpoch, 3, kNow});
  CHECK(seqs(store.readPage("room:a", {0, 0, 200, kPageBytes})) == std::vector<uint64_t>{1, 2, 3, 4, 5});
  CHECK(store.countChannels() == 1);
}

TEST_CASE("opening an unusable directory throws HistoryStoreError", "[history_store]") {
  TempDir dir;
  const fs::path file = dir.path / "plain-file";
  { std::ofstream(file) << "x"; }
  CHECK_THROWS_AS(RocksDbHistoryStore((file / "db").string()), HistoryStoreError);
  RocksDbHistoryStore first(dir.path.string());
  CHECK_THROWS_AS(RocksDbHistoryStore(dir.path.string()), HistoryStoreError);  // LOCK held
}

STORE_TEST("a rewrite of a key replaces it, the last write of a batch wins") {
  auto opened = backend.open();
  HistoryStore& store = *opened;
  WriteSet ws = batchOf("room:r", 1, 2);
  ws.metas.push_back({"room:r", {kEpoch, 7}});  // a second meta for the channel in the same batch
  REQUIRE_NOTHROW(store.commit(ws, true));
  CHECK(store.loadMeta("room:r") == ChannelMeta{kEpoch, 7});
  WriteSet again;
  again.messages.push_back(msg("room:r", 2, "\"replaced\""));
  again.dedups.push_back({"u", "room:r-1", {"room:r", kEpoch, 9, kNow + 77}});  // an expired cid reused
  again.metas.push_back({"room:r", {kEpoch, 2}});
  REQUIRE_NOTHROW(store.commit(again, false));
  CHECK(store.loadDedup("u", "room:r-1") == DedupRecord{"room:r", kEpoch, 9, kNow + 77});
  auto page = store.readPage("room:r", {0, 0, 10, kPageBytes});
  REQUIRE(seqs(page) == std::vector<uint64_t>{1, 2});
  CHECK(page.msgs[1].data == "\"replaced\"");
  CHECK(page.lastSeq == 2);
}

STORE_TEST("bytes are kept verbatim, 64-bit epochs and timestamps survive") {
  auto opened = backend.open();
  HistoryStore& store = *opened;
  const uint64_t bigEpoch = 0xfedcba9876543210ull;
  const std::string data = "{\"t\":\"h\xc3\xa9llo \\u0000 \\\"q\\\" \xf0\x9f\x98\x80\",\"n\":123456789012345678901234567890}";
  const std::string from = "us\xc3\xa9r 'x\"";
  WriteSet ws;
  ws.messages.push_back({"room:bytes", bigEpoch, 1, from, -5, data});
  ws.metas.push_back({"room:bytes", {bigEpoch, 1}});
  ws.dedups.push_back({from, std::string("c\x01\xff", 3), {"room:bytes", bigEpoch, 1, INT64_MAX}});
  REQUIRE_NOTHROW(store.commit(ws, true));
  CHECK(store.loadMeta("room:bytes") == ChannelMeta{bigEpoch, 1});
  CHECK(store.loadDedup(from, std::string("c\x01\xff", 3)) == DedupRecord{"room:bytes", bigEpoch, 1, INT64_MAX});
  auto page = store.readPage("room:bytes", {0, 0, 10, kPageBytes});
  REQUIRE(page.msgs.size() == 1);
  CHECK(page.msgs[0] == StoredMessage{"room:bytes", bigEpoch, 1, from, -5, data});
  CHECK(page.epoch == bigEpoch);
  CHECK(store.readPage("room:bytes", {0, UINT64_MAX, 10, kPageBytes}).msgs.empty());
}

STORE_TEST("many channels and large batches") {
  auto opened = backend.open();
  HistoryStore& store = *opened;
  WriteSet ws;
  for (int c = 0; c < 50; ++c) {
    const std::string ch = "room:m" + std::to_string(c);
    for (uint64_t s = 1; s <= 40; ++s) {
      ws.messages.push_back(msg(ch, s));
      ws.dedups.push_back({"u", ch + "/" + std::to_string(s), {ch, kEpoch, s, kNow}});
    }
    ws.metas.push_back({ch, {kEpoch, 40}});
  }
  REQUIRE_NOTHROW(store.commit(ws, true));
  CHECK(store.countChannels() == 50);
  CHECK(store.loadDedup("u", "room:m49/40") == DedupRecord{"room:m49", kEpoch, 40, kNow});
  CHECK_FALSE(store.loadDedup("u", "room:m49/41"));
  auto page = store.readPage("room:m7", {0, 0, 200, kPageBytes});
  CHECK(page.msgs.size() == 40);
  CHECK(page.lastSeq == 40);
}

// ----- retention (trimHistory, listChannels) -----

STORE_TEST("trim by count keeps the newest, never the meta or dedup records") {
  auto opened = backend.open();
  HistoryStore& store = *opened;
  REQUIRE_NOTHROW(store.commit(batchOf("room:t", 1, 20), true));
  REQUIRE_NOTHROW(store.commit(batchOf("room:t2", 1, 3), true));  // a neighbour, untouched
  TrimRequest keep5;
  keep5.keepLast = 5;
  TrimResult r = store.trimHistory("room:t", keep5);
  CHECK_FALSE(r.more);
  CHECK(r.deleted >= 15);
  auto page = store.readPage("room:t", {0, 0, 200, kPageBytes});
  CHECK(seqs(page) == std::vector<uint64_t>{16, 17, 18, 19, 20});
  CHECK(page.lastSeq == 20);
  CHECK(page.epoch == kEpoch);
  CHECK(seqs(store.readPage("room:t", {0, 3, 200, kPageBytes})) == std::vector<uint64_t>{16, 17, 18, 19, 20});
  CHECK(seqs(store.readPage("room:t", {16, 0, 200, kPageBytes})).empty());
  CHECK(store.loadMeta("room:t") == ChannelMeta{kEpoch, 20});
  CHECK(store.loadDedup("u", "room:t-1") == DedupRecord{"room:t", kEpoch, 1, kNow});  // dedup outlives history
  CHECK(seqs(store.readPage("room:t2", {0, 0, 200, kPageBytes})) == std::vector<uint64_t>{1, 2, 3});
  // Idempotent; then seq continues after the kept ones.
  CHECK(store.trimHistory("room:t", keep5).deleted == 0);
  REQUIRE_NOTHROW(store.commit(batchOf("room:t", 21, 22), true));
  CHECK(store.trimHistory("room:t", keep5).deleted >= 2);
  CHECK(seqs(store.readPage("room:t", {0, 0, 200, kPageBytes})) == std::vector<uint64_t>{18, 19, 20, 21, 22});
  CHECK(store.trimHistory("room:none", keep5).deleted == 0);  // never written
}

STORE_TEST("trim by age deletes the oldest run, bounded per call") {
  auto opened = backend.open();
  HistoryStore& store = *opened;
  REQUIRE_NOTHROW(store.commit(batchOf("room:age", 1, 30), true));  // ts = 1000 + seq
  TrimRequest old;
  old.minTsMs = 1000 + 26;  // seqs 1..25 are older
  old.maxDeletes = 10;
  TrimResult r = store.trimHistory("room:age", old);
  CHECK(r.more);
  int calls = 1;
  while (r.more && calls < 10) {
    r = store.trimHistory("room:age", old);
    ++calls;
  }
  CHECK_FALSE(r.more);
  CHECK(calls >= 3);
  CHECK(seqs(store.readPage("room:age", {0, 0, 200, kPageBytes})) == std::vector<uint64_t>{26, 27, 28, 29, 30});
  // Count and age together: the stricter wins.
  TrimRequest both;
  both.keepLast = 2;
  both.minTsMs = 1000 + 27;
  store.trimHistory("room:age", both);
  CHECK(seqs(store.readPage("room:age", {0, 0, 200, kPageBytes})) == std::vector<uint64_t>{29, 30});
  TrimRequest everything;
  everything.minTsMs = INT64_MAX;
  store.trimHistory("room:age", everything);
  auto empty = store.readPage("room:age", {0, 0, 200, kPageBytes});
  CHECK(empty.msgs.empty());
  CHECK(empty.lastSeq == 30);
  CHECK(store.loadMeta("room:age") == ChannelMeta{kEpoch, 30});
}

STORE_TEST("listChannels pages through every channel once") {
  auto opened = backend.open();
  HistoryStore& store = *opened;
  std::set<std::string> expected;
  for (int i = 0; i < 23; ++i) {
    const std::string ch = "room:" + std::to_string(i);
    REQUIRE_NOTHROW(store.commit(batchOf(ch, 1, 1), false));
    expected.insert(ch);
  }
  WriteSet metaOnly;
  metaOnly.metas.push_back({"user:9", {kEpoch, 0}});
  REQUIRE_NOTHROW(store.commit(metaOnly, true));
  expected.insert("user:9");
  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  for (;;) {
    auto page = store.listChannels(cursor, 5);
    CHECK(page.size() <= 5);
    if (page.empty()) break;
    for (const auto& ch : page) CHECK(seen.insert(ch).second);
    cursor = page.back();
    ++pages;
  }
  CHECK(seen == expected);
  CHECK(pages == 5);
}

// ----- PostgreSQL only -----

TEST_CASE("postgres: an unreachable server throws HistoryStoreError", "[history_store][.postgres]") {
  TempDir dir;  // nobody listens on a socket in an empty directory
  CHECK_THROWS_AS(PostgresHistoryStore(PostgresStoreOptions{"host=" + dir.path.string() + " connect_timeout=2"}),
                  HistoryStoreError);
}

TEST_CASE("postgres: a killed connection is replaced on the next call", "[history_store][.postgres]") {
  PgBackend backend;
  if (!backend.available()) {
    WARN(kPgSkip);
    return;
  }
  auto store = backend.open();
  REQUIRE_NOTHROW(store->commit(batchOf("room:k", 1, 3), true));
  const std::string kill = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '" +
                           backend.schema() + "' AND pid <> pg_backend_pid()";
  pgAdmin(kill);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(store->loadMeta("room:k") == ChannelMeta{kEpoch, 3});  // reconnected transparently
  pgAdmin(kill);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK_NOTHROW(store->commit(batchOf("room:k", 4, 5), true));  // noticed before sending
  CHECK(seqs(store->readPage("room:k", {0, 0, 10, kPageBytes})) == std::vector<uint64_t>{1, 2, 3, 4, 5});
}

TEST_CASE("postgres: a commit cut off in flight fails, and the store recovers by itself",
          "[history_store][.postgres]") {
  PgBackend backend;
  if (!backend.available()) {
    WARN(kPgSkip);
    return;
  }
  auto store = backend.open();
  REQUIRE_NOTHROW(store->commit(batchOf("room:cut", 1, 2), true));
  // Hold a lock so the next commit blocks on the server, then kill its connection mid-commit.
  PGconn* locker = PQconnectdb(backend.dsn().c_str());
  REQUIRE(PQstatus(locker) == CONNECTION_OK);
  PQclear(PQexec(locker, "BEGIN"));
  PQclear(PQexec(locker, "LOCK TABLE webim_message IN ACCESS EXCLUSIVE MODE"));
  std::string error;
  std::thread committer([&] {
    try {
      store->commit(batchOf("room:cut", 3, 4), true);
    } catch (const HistoryStoreError& e) {
      error = e.what();
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  pgAdmin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '" + backend.schema() +
          "' AND pid <> pg_backend_pid() AND pid <> " + std::to_string(PQbackendPID(locker)));
  committer.join();
  PQclear(PQexec(locker, "ROLLBACK"));
  PQfinish(locker);
  CHECK_FALSE(error.empty());
  // The hub rolls back to seq 2 and sequences 3, 4 again with other content: that must stick.
  WriteSet retry = batchOf("room:cut", 3, 4);
  retry.messages[0].data = "\"second try\"";
  CHECK_NOTHROW(store->commit(retry, true));
  auto page = store->readPage("room:cut", {0, 0, 10, kPageBytes});
  REQUIRE(seqs(page) == std::vector<uint64_t>{1, 2, 3, 4});
  CHECK(page.msgs[2].data == "\"second try\"");
  CHECK(store->loadMeta("room:cut") == ChannelMeta{kEpoch, 4});
}

TEST_CASE("postgres: loadMetas of 2,000 channels is one round trip", "[history_store][.postgres]") {
  PgBackend backend;
  if (!backend.available()) {
    WARN(kPgSkip);
    return;
  }
  PostgresHistoryStore store(PostgresStoreOptions{backend.dsn()});
  std::vector<std::string> asked;
  for (int i = 0; i < 2000; ++i) asked.push_back("user:" + std::to_string(1000000 + i));
  const uint64_t before = store.roundTrips();
  CHECK(store.loadMetas(asked).size() == 2000);
  CHECK(store.roundTrips() == before + 1);
}

TEST_CASE("postgres: the dedup filter answers new cids without a query", "[history_store][.postgres]") {
  PgBackend backend;
  if (!backend.available()) {
    WARN(kPgSkip);
    return;
  }
  REQUIRE_NOTHROW(backend.open()->commit(batchOf("room:f", 1, 100), true));
  PostgresHistoryStore store(PostgresStoreOptions{backend.dsn()});  // loads the filter
  for (int i = 1; i <= 100; ++i)
    CHECK(store.loadDedup("u", "room:f-" + std::to_string(i)) == DedupRecord{"room:f", kEpoch, static_cast<uint64_t>(i), kNow});
  REQUIRE_NOTHROW(store.commit(batchOf("room:f", 101, 110), true));
  CHECK(store.loadDedup("u", "room:f-105") == DedupRecord{"room:f", kEpoch, 105, kNow});
  CHECK(store.dedupQueries() == 101);
  for (int i = 0; i < 1000; ++i) CHECK_FALSE(store.loadDedup("u", "new-" + std::to_string(i)));
  CHECK(store.dedupFilterSkips() >= 950);  // ~1% false positives go to the server
}
