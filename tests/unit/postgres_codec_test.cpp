// The PostgreSQL store's pure parts: the binary array codec, the commit and undo arrays, and the
// dedup filter. No I/O.
#include <catch2/catch.hpp>

#include <string>

#include "broadcast/dedup_filter.h"
#include "broadcast/postgres_batch.h"
#include "broadcast/postgres_codec.h"

using namespace webim::hub;
using namespace std::string_literals;

TEST_CASE("PostgreSQL binary arrays", "[postgres_codec]") {
  pg::ArrayParam empty(pg::kInt8Oid);
  CHECK(empty.finish() == "\0\0\0\0\0\0\0\0\0\0\0\x14"s);  // ndim 0, no nulls, int8
  pg::ArrayParam ints(pg::kInt8Oid);
  ints.addInt8(1);
  ints.addInt8(UINT64_MAX);
  CHECK(ints.finish() ==
        "\0\0\0\1" "\0\0\0\0" "\0\0\0\x14" "\0\0\0\2" "\0\0\0\1"
        "\0\0\0\x08" "\0\0\0\0\0\0\0\1" "\0\0\0\x08" "\xff\xff\xff\xff\xff\xff\xff\xff"s);
  pg::ArrayParam texts(pg::kTextOid);
  texts.addBytes("ab");
  texts.addBytes("");
  CHECK(texts.finish() == "\0\0\0\1" "\0\0\0\0" "\0\0\0\x19" "\0\0\0\2" "\0\0\0\1" "\0\0\0\2" "ab" "\0\0\0\0"s);
  texts.addBytes("c");  // finish() again includes it
  CHECK(texts.finish().size() == 20 + 6 + 4 + 5);
  pg::Params p;
  p.addInt8(0x0102);
  p.add("xyz");
  CHECK(p.lengths() == std::vector<int>{8, 3});
  CHECK(std::string(p.values()[0], 8) == "\0\0\0\0\0\0\x01\x02"s);
}

TEST_CASE("commit arrays keep the last write per key, undo arrays restore first seq - 1", "[postgres_codec]") {
  WriteSet ws;
  ws.messages = {{"a", 1, 5, "u", 0, "x"}, {"a", 1, 6, "u", 0, "y"}, {"a", 1, 5, "u", 0, "z"}};
  ws.metas = {{"a", {1, 5}}, {"a", {1, 6}}, {"sub-only", {9, 0}}};
  ws.dedups = {{"u", "c1", {"a", 1, 5, 0}}, {"u", "c1", {"a", 1, 6, 0}}};
  ws.revocations = {{"42", 1}, {"42", 2}};
  pg::CommitArrays a = pg::commitArrays(ws);
  CHECK(a.messageRows == 2);
  CHECK(a.metaRows == 2);
  CHECK(a.dedupRows == 1);
  CHECK(a.revocationRows == 1);
  CHECK(a.dedupHashes == std::vector<uint64_t>{dedupKeyHash("u", "c1")});
  pg::ArrayParam lastRevocation(pg::kInt8Oid);
  lastRevocation.addInt8(2);
  CHECK(a.rNotBefore.finish() == lastRevocation.finish());

  pg::UndoArrays u = pg::undoArrays(ws);
  CHECK(u.msgSeqs.size() == 3);
  CHECK(u.metaChannels.size() == 2);  // "a" twice (both metas), not the subscriber-only channel
  pg::ArrayParam restore(pg::kInt8Oid);
  restore.addInt8(4);
  restore.addInt8(4);
  CHECK(u.metaRestore.finish() == restore.finish());
}

TEST_CASE("the dedup filter has no false negatives and forgets after two TTLs", "[dedup_filter]") {
  DedupFilter filter(1000);
  filter.reset(0);
  for (int i = 0; i < 200000; ++i) filter.add(dedupKeyHash("u", std::to_string(i)), 0);
  for (int i = 0; i < 200000; ++i) REQUIRE(filter.mayContain(dedupKeyHash("u", std::to_string(i)), 0));
  int falsePositives = 0;
  for (int i = 0; i < 100000; ++i) falsePositives += filter.mayContain(dedupKeyHash("v", std::to_string(i)), 0);
  CHECK(falsePositives < 2500);  // ~1% designed
  CHECK(filter.mayContain(dedupKeyHash("u", "1"), 1000 + 60001));  // rotated once: still the previous generation
  CHECK_FALSE(filter.mayContain(dedupKeyHash("u", "1"), 2 * (1000 + 60001) + 1));
  CHECK(dedupKeyHash("ab", "c") != dedupKeyHash("a", "bc"));
}
