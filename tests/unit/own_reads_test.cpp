// A user's own publish marks the channel read (broadcast/own_reads.h), the pure part: which
// channels, and how a batch's own reads join the cursor records its reads staged.
#include <catch2/catch.hpp>

#include "broadcast/own_reads.h"

using namespace webim::hub;

TEST_CASE("own reads apply where the sender can read: not inboxes", "[own_reads]") {
  CHECK(ownReadApplies("dm:alice:bob"));
  CHECK(ownReadApplies("room:1"));
  CHECK_FALSE(ownReadApplies("user:bob"));
}

TEST_CASE("own reads: one record per key, the last publish carries the receipt", "[own_reads]") {
  std::vector<ReadCursor> staged;
  const std::vector<OwnRead> reads{{"dm:a:b", "a", 1}, {"dm:a:b", "a", 2}, {"dm:a:b", "b", 3}, {"dm:a:b", "a", 4}};
  const OwnReadsMerge m = mergeOwnReads(reads, staged);
  CHECK(m.receipts == std::vector<size_t>{2, 3});
  CHECK(m.added == 2);
  REQUIRE(staged.size() == 2);
  std::sort(staged.begin(), staged.end(), [](const ReadCursor& x, const ReadCursor& y) { return x.user < y.user; });
  CHECK(staged[0] == ReadCursor{"dm:a:b", "a", 4});
  CHECK(staged[1] == ReadCursor{"dm:a:b", "b", 3});
}

TEST_CASE("own reads raise a key a read of the batch staged, and add the others", "[own_reads]") {
  std::vector<ReadCursor> staged{{"room:1", "a", 5}, {"room:2", "a", 9}};
  const OwnReadsMerge m = mergeOwnReads({{"room:1", "a", 7}, {"room:3", "a", 2}}, staged);
  CHECK(m.added == 1);
  CHECK(m.keys.size() == 2);
  REQUIRE(staged.size() == 3);
  CHECK(staged[0] == ReadCursor{"room:1", "a", 7});
  CHECK(staged[1] == ReadCursor{"room:2", "a", 9});  // untouched
  CHECK(staged[2] == ReadCursor{"room:3", "a", 2});
}

TEST_CASE("own reads never lower a staged record", "[own_reads]") {
  std::vector<ReadCursor> staged{{"room:1", "a", 8}};
  (void)mergeOwnReads({{"room:1", "a", 7}}, staged);
  CHECK(staged[0].seq == 8);
}

TEST_CASE("no own reads: nothing changes", "[own_reads]") {
  std::vector<ReadCursor> staged{{"room:1", "a", 8}};
  const OwnReadsMerge m = mergeOwnReads({}, staged);
  CHECK(m.receipts.empty());
  CHECK(staged.size() == 1);
}
