#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>

#include "broadcast/rocksdb_store.h"

using namespace webim::hub;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the system temp dir, removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("webim-store-test-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

constexpr uint64_t kEpoch = 0x1122334455667788ull;
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
    ws.dedups.push_back({"u", ch + "-" + std::to_string(s), {ch, kEpoch, s, 5}});
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

TEST_CASE("an empty store knows nothing", "[history_store]") {
  TempDir dir;
  RocksDbHistoryStore store(dir.path.string());
  CHECK_FALSE(store.loadMeta("room:a"));
  CHECK_FALSE(store.loadDedup("u", "c"));
  auto page = store.readPage("room:a", {0, 0, 10, kPageBytes});
  CHECK(page.epoch == 0);
  CHECK(page.msgs.empty());
  CHECK_FALSE(page.more);
  CHECK(store.countChannels() == 0);
}

TEST_CASE("meta and dedup records round-trip", "[history_store]") {
  TempDir dir;
  RocksDbHistoryStore store(dir.path.string());
  WriteSet ws;
  ws.metas.push_back({"room:a", {kEpoch, 42}});
  ws.dedups.push_back({"user-1", "cid:7", {"room:a", kEpoch, 42, 1764250000123}});
  REQUIRE(store.commit(ws, true).empty());
  CHECK(store.loadMeta("room:a") == ChannelMeta{kEpoch, 42});
  CHECK(store.loadDedup("user-1", "cid:7") == DedupRecord{"room:a", kEpoch, 42, 1764250000123});
  CHECK_FALSE(store.loadDedup("user-1", "cid:8"));
  CHECK_FALSE(store.loadDedup("user-", "1cid:7"));
  CHECK_FALSE(store.loadMeta("room:"));
}

TEST_CASE("pages after/before/limit/more, ascending by seq", "[history_store]") {
  TempDir dir;
  RocksDbHistoryStore store(dir.path.string());
  REQUIRE(store.commit(batchOf("room:1", 1, 10), true).empty());
  REQUIRE(store.commit(batchOf("room:10", 1, 3), false).empty());  // must never leak into room:1
  REQUIRE(store.commit(batchOf("room:1", 11, 12), true).empty());

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

TEST_CASE("a page stops at the byte bound but holds at least one message", "[history_store]") {
  TempDir dir;
  RocksDbHistoryStore store(dir.path.string());
  WriteSet ws;
  for (uint64_t s = 1; s <= 4; ++s) ws.messages.push_back(msg("room:big", s, "\"" + std::string(1000, 'x') + "\""));
  ws.metas.push_back({"room:big", {kEpoch, 4}});
  REQUIRE(store.commit(ws, true).empty());
  auto page = store.readPage("room:big", {0, 0, 200, 2500});
  CHECK(seqs(page) == std::vector<uint64_t>{1, 2});
  CHECK(page.more);
  auto tiny = store.readPage("room:big", {0, 0, 200, 10});
  CHECK(seqs(tiny) == std::vector<uint64_t>{1});
  CHECK(tiny.more);
}

TEST_CASE("reopening keeps everything", "[history_store]") {
  TempDir dir;
  {
    RocksDbHistoryStore store(dir.path.string());
    REQUIRE(store.commit(batchOf("room:a", 1, 5), true).empty());
  }
  RocksDbHistoryStore store(dir.path.string());
  CHECK(store.loadMeta("room:a") == ChannelMeta{kEpoch, 5});
  CHECK(store.loadDedup("u", "room:a-3") == DedupRecord{"room:a", kEpoch, 3, 5});
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
