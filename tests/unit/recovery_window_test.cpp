#include "frontend/recovery_window.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace webim;

namespace {

constexpr uint64_t kEpoch = 0xE1;

wire::HistoryPage page(std::vector<uint64_t> seqs, bool more, uint64_t epoch = kEpoch, size_t dataBytes = 2) {
  wire::HistoryPage p;
  p.set_epoch(epoch);
  p.set_more(more);
  for (uint64_t seq : seqs) {
    wire::Delivery* m = p.add_msgs();
    m->set_channel("room:1");
    m->set_epoch(epoch);
    m->set_seq(seq);
    m->set_data(std::string(dataBytes, 'x'));
  }
  return p;
}

std::vector<uint64_t> seqs(const std::vector<wire::Delivery>& msgs) {
  std::vector<uint64_t> out;
  for (const wire::Delivery& m : msgs) out.push_back(m.seq());
  return out;
}

}  // namespace

TEST_CASE("recovery reads page after page up to what was delivered live", "[recovery_window]") {
  RecoveryWindow window(3, 500, 1 << 20);
  CHECK(window.wantsMore(7));
  CHECK(window.take(page({4, 5}, true), kEpoch, 7));
  CHECK(window.cursor() == 5);
  CHECK(window.wantsMore(7));
  CHECK(window.take(page({6, 7, 8}, false), kEpoch, 7));  // 8 arrives live
  CHECK_FALSE(window.wantsMore(7));
  CHECK(window.complete(7));
  CHECK(seqs(window.takeMissed()) == std::vector<uint64_t>{4, 5, 6, 7});
}

TEST_CASE("the live stream moving on while pages are read is followed", "[recovery_window]") {
  RecoveryWindow window(0, 500, 1 << 20);
  CHECK(window.take(page({1, 2}, true), kEpoch, 2));
  CHECK_FALSE(window.wantsMore(2));
  CHECK(window.wantsMore(4));  // two more were delivered live meanwhile
  CHECK(window.take(page({3, 4}, false), kEpoch, 4));
  CHECK(window.complete(4));
}

TEST_CASE("a hole in history, a short history or another epoch is not a recovery", "[recovery_window]") {
  SECTION("hole") {
    RecoveryWindow window(3, 500, 1 << 20);
    CHECK(window.take(page({4, 6}, false), kEpoch, 6));
    CHECK_FALSE(window.wantsMore(6));
    CHECK_FALSE(window.complete(6));
  }
  SECTION("history ends before the live position") {
    RecoveryWindow window(3, 500, 1 << 20);
    CHECK(window.take(page({4}, false), kEpoch, 6));
    CHECK_FALSE(window.complete(6));
  }
  SECTION("another epoch, or an empty page: stop reading") {
    RecoveryWindow window(3, 500, 1 << 20);
    CHECK_FALSE(window.take(page({4}, false, kEpoch + 1), kEpoch, 6));
    CHECK_FALSE(window.take(page({}, true), kEpoch, 6));
    CHECK_FALSE(window.complete(6));
  }
}

TEST_CASE("recovery stops at recovery_max_messages or recovery_max_bytes", "[recovery_window]") {
  SECTION("messages") {
    RecoveryWindow window(0, 3, 1 << 20);
    CHECK(window.take(page({1, 2, 3}, true), kEpoch, 3));
    CHECK(window.complete(3));  // exactly the limit
    RecoveryWindow over(0, 3, 1 << 20);
    CHECK(over.take(page({1, 2, 3, 4}, false), kEpoch, 4));
    CHECK_FALSE(over.complete(4));
    CHECK_FALSE(over.wantsMore(4));
  }
  SECTION("bytes: data, channel name and 64 per message") {
    const size_t perMessage = 100 + 6 + 64;
    RecoveryWindow window(0, 500, 2 * perMessage);
    CHECK(window.take(page({1, 2}, false, kEpoch, 100), kEpoch, 2));
    CHECK(window.complete(2));
    RecoveryWindow over(0, 500, 2 * perMessage - 1);
    CHECK(over.take(page({1, 2}, false, kEpoch, 100), kEpoch, 2));
    CHECK_FALSE(over.complete(2));
  }
}

TEST_CASE("nothing missed is complete without a page", "[recovery_window]") {
  RecoveryWindow window(5, 500, 1 << 20);
  CHECK_FALSE(window.wantsMore(5));
  CHECK(window.complete(5));
  CHECK(window.takeMissed().empty());
}
