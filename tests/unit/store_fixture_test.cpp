// Stores written by a release before the store's own record format and the format/schema version
// (tests/fixtures/store-v0, made with tests/fixtures/make_store_fixtures.sh; the README there
// says what they hold) open with this code: migrated at open, they read back what the release
// wrote (history, positions, dedup answers, revocations, the epoch seed), a publish continues the
// seq, and a second open finds nothing left to migrate. Also: a store newer than this binary is
// refused. PostgreSQL cases are hidden ([.postgres], run by tests/integration/postgres.cmake).
#include <catch2/catch.hpp>

#include <rocksdb/db.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "broadcast/rocksdb_migrations.h"
#include "broadcast/rocksdb_records.h"
#include "broadcast/sequencer.h"
#include "tests/unit/store_test_support.h"

using namespace webim::hub;
namespace fs = std::filesystem;

namespace {

const fs::path kFixtures = fs::path(WEBIM_FIXTURES_DIR) / "store-v0";
constexpr size_t kPageBytes = 1 << 20;

// What the release answered while writing the fixtures (replies-*.txt).
struct Written {
  uint64_t epochA;       // room:a
  uint64_t epochB;       // room:b
  const char* seedHex;  // the store's epoch seed
};
constexpr Written kRocks{0xd5287b1cca5f07e1ull, 0xa917ae8356b1e703ull,
                         "58e5dc67218cf06acd27c8f5f4b792e6cca133f665a01a801346c05fe4714103"};
constexpr Written kPostgres{0xd6681c0287dd0954ull, 0xe5fa322af1d6d507ull,
                            "56af0bbf7c71758bd1a8abaa2b5983e03cb2d241496a2c5759c5e8a37d958d02"};

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

std::string fileText(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<uint64_t> seqs(const HistoryPage& page) {
  std::vector<uint64_t> out;
  for (const auto& m : page.msgs) out.push_back(m.seq);
  return out;
}

// Everything the release wrote, read back through the HistoryStore interface.
void checkWritten(HistoryStore& store, const Written& w) {
  CHECK(store.loadMeta("room:a") == ChannelMeta{w.epochA, 3});
  CHECK(store.loadMetas({"room:b", "room:none"}) ==
        std::vector<std::optional<ChannelMeta>>{ChannelMeta{w.epochB, 2}, std::nullopt});
  CHECK(store.countChannels() == 2);
  CHECK(store.listChannels("", 10) == std::vector<std::string>{"room:a", "room:b"});

  const HistoryPage a = store.readPage("room:a", {0, 0, 10, kPageBytes});
  REQUIRE(seqs(a) == std::vector<uint64_t>{1, 2, 3});
  CHECK(a.epoch == w.epochA);
  CHECK(a.lastSeq == 3);
  CHECK(a.msgs[0] == StoredMessage{"room:a", w.epochA, 1, "php", a.msgs[0].tsMs,
                                   R"({"text":"hello","n":12345678901234567890})"});
  CHECK(a.msgs[1].from == "alice");
  CHECK(a.msgs[1].data == R"("caf\u00e9 \u2603")");
  CHECK(a.msgs[2].data == R"({"text":"third"})");
  CHECK(a.msgs[0].tsMs > 1700000000000);
  CHECK(a.msgs[0].tsMs <= a.msgs[1].tsMs);
  const HistoryPage b = store.readPage("room:b", {3, 0, 1, kPageBytes});  // before 3, newest 1
  REQUIRE(seqs(b) == std::vector<uint64_t>{2});
  CHECK(b.more);
  CHECK(b.msgs[0] == StoredMessage{"room:b", w.epochB, 2, "bob", b.msgs[0].tsMs, "null"});

  // The dedup answers: the first result of each (from, cid).
  CHECK(store.loadDedup("php", "a1") == DedupRecord{"room:a", w.epochA, 1, a.msgs[0].tsMs});
  CHECK(store.loadDedup("alice", "a2") == DedupRecord{"room:a", w.epochA, 2, a.msgs[1].tsMs});
  CHECK(store.loadDedup("bob", "b2") == DedupRecord{"room:b", w.epochB, 2, b.msgs[0].tsMs});
  CHECK_FALSE(store.loadDedup("php", "b1"));

  const std::vector<Revocation> kicks = store.loadRevocations(0);
  REQUIRE(kicks.size() == 1);
  CHECK(kicks[0].user == "42");
  CHECK(kicks[0].notBeforeMs >= a.msgs[2].tsMs);
  CHECK(hex(store.epochSeed()) == w.seedHex);
  // Migration step 2 indexed the stored messages by sender (erase_user).
  CHECK(store.countSender("php", 10) == 2);
  CHECK(store.countSender("alice", 10) == 1);
  CHECK(store.countSender("bob", 10) == 2);
}

// The hub's path on top of the migrated store: a retried cid is a duplicate with its first seq,
// a new publish continues the channel's seq in its epoch, and it reads back.
void publishOn(HistoryStore& store, const Written& w) {
  Sequencer sequencer(store, [](std::string_view) { return uint64_t{1}; }, int64_t{100} * 365 * 86400 * 1000);
  const int64_t now = 1900000000000;
  PublishOutcome retry = sequencer.sequence({"room:a", "php", "a1", "{}"}, now);
  CHECK(retry.status == PublishStatus::Duplicate);
  CHECK(retry.seq == 1);
  CHECK(retry.epoch == w.epochA);
  PublishOutcome next = sequencer.sequence({"room:a", "php", "a4", "\"fourth\""}, now);
  REQUIRE(next.status == PublishStatus::Sequenced);
  CHECK(next.seq == 4);
  CHECK(next.epoch == w.epochA);
  REQUIRE_NOTHROW(store.commit(sequencer.pending(), true));
  sequencer.commitSucceeded();
  const HistoryPage page = store.readPage("room:a", {0, 3, 10, kPageBytes});
  REQUIRE(seqs(page) == std::vector<uint64_t>{4});
  CHECK(page.msgs[0] == StoredMessage{"room:a", w.epochA, 4, "php", now, "\"fourth\""});
  CHECK(store.loadMeta("room:a") == ChannelMeta{w.epochA, 4});
}

}  // namespace

TEST_CASE("rocksdb: a store written by the format-0 release opens, reads and continues", "[store_fixture][rocksdb]") {
  TempDir dir;
  const fs::path data = dir.path / "data";
  fs::copy(kFixtures / "rocksdb", data, fs::copy_options::recursive);
  {
    RocksDbHistoryStore store(data.string());
    checkWritten(store, kRocks);
    publishOn(store, kRocks);
  }
  RocksDbHistoryStore again(data.string());  // migrated already: opens as is
  CHECK(hex(again.epochSeed()) == kRocks.seedHex);
  CHECK(again.loadMeta("room:a") == ChannelMeta{kRocks.epochA, 4});
  CHECK(seqs(again.readPage("room:a", {0, 0, 10, kPageBytes})) == std::vector<uint64_t>{1, 2, 3, 4});
}

TEST_CASE("rocksdb: a migration cut short (some records rewritten, no version yet) completes at the next open",
          "[store_fixture][rocksdb]") {
  TempDir dir;
  const fs::path data = dir.path / "data";
  fs::copy(kFixtures / "rocksdb", data, fs::copy_options::recursive);
  {
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::Options(), data.string(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::string legacy;
    REQUIRE(db->Get(rocksdb::ReadOptions(), rocks::messageKey("room:a", 2), &legacy).ok());
    std::optional<StoredMessage> m = rocks::decodeLegacyDelivery(legacy);
    REQUIRE(m);
    REQUIRE(db->Put(rocksdb::WriteOptions(), rocks::messageKey("room:a", 2), rocks::encodeMessage(*m)).ok());
    REQUIRE(db->Close().ok());
  }
  RocksDbHistoryStore store(data.string());
  checkWritten(store, kRocks);
}

TEST_CASE("rocksdb: the format version is recorded, a newer store is refused", "[store_fixture][rocksdb]") {
  TempDir dir;
  { RocksDbHistoryStore fresh(dir.path.string()); }
  rocksdb::DB* raw = nullptr;
  REQUIRE(rocksdb::DB::Open(rocksdb::Options(), dir.path.string(), &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string version;
  REQUIRE(db->Get(rocksdb::ReadOptions(), std::string(rocks::kFormatVersionKey), &version).ok());
  CHECK(rocks::decodeFormatVersion(version) == rocks::latestFormat());
  REQUIRE(db->Put(rocksdb::WriteOptions(), std::string(rocks::kFormatVersionKey),
                  rocks::encodeFormatVersion(rocks::latestFormat() + 1))
              .ok());
  REQUIRE(db->Close().ok());
  db.reset();
  CHECK_THROWS_WITH(RocksDbHistoryStore(dir.path.string()), Catch::Contains("newer than this webim-broadcast"));
}

TEST_CASE("postgres: a database written by the release before the schema version opens, reads and continues",
          "[store_fixture][.postgres]") {
  PgBackend backend;
  if (!backend.available()) {
    WARN(kPgSkip);
    return;
  }
  {
    PGconn* c = PQconnectdb(backend.dsn().c_str());
    REQUIRE(PQstatus(c) == CONNECTION_OK);
    PGresult* r = PQexec(c, fileText(kFixtures / "postgres.sql").c_str());
    INFO(PQresultErrorMessage(r));
    CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
  }
  // A dedup TTL of a century: the fixture's records are older than a day, and the filter only
  // loads the keys younger than the TTL.
  const PostgresStoreOptions options{backend.dsn(), int64_t{100} * 365 * 86400 * 1000};
  {
    PostgresHistoryStore store(options);
    checkWritten(store, kPostgres);
    publishOn(store, kPostgres);
  }
  PostgresHistoryStore again(options);
  CHECK(seqs(again.readPage("room:a", {0, 0, 10, kPageBytes})) == std::vector<uint64_t>{1, 2, 3, 4});
  pgAdmin("UPDATE " + backend.schema() + ".webim_store SET value = '\\x000000ff' WHERE name = 'schema_version'");
  CHECK_THROWS_WITH(PostgresHistoryStore(options), Catch::Contains("newer than this webim-broadcast"));
}
