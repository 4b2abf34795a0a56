#include <catch2/catch.hpp>

#include "broadcast/durable_page.h"

using namespace webim::hub;

namespace {

HistoryPage pageOf(uint64_t epoch, uint64_t lastSeq, std::vector<uint64_t> seqs, bool more) {
  HistoryPage page;
  page.epoch = epoch;
  page.lastSeq = lastSeq;
  page.more = more;
  for (uint64_t s : seqs) page.msgs.push_back(StoredMessage{"room:a", epoch, s, "u", 0, "1"});
  return page;
}

std::vector<uint64_t> seqs(const HistoryPage& page) {
  std::vector<uint64_t> out;
  for (const StoredMessage& m : page.msgs) out.push_back(m.seq);
  return out;
}

}  // namespace

TEST_CASE("a page ends at the durable position", "[durable_page]") {
  // The store already shows seqs 6..8 of a batch in flight.
  HistoryPage page = pageOf(7, 8, {4, 5, 6, 7}, true);
  clampPage(page, ChannelMeta{7, 5});
  CHECK(seqs(page) == std::vector<uint64_t>{4, 5});
  CHECK(page.lastSeq == 5);
  CHECK_FALSE(page.more);  // nothing durable beyond
  // Nothing past it: unchanged.
  HistoryPage durable = pageOf(7, 5, {1, 2}, true);
  clampPage(durable, ChannelMeta{7, 5});
  CHECK(seqs(durable) == std::vector<uint64_t>{1, 2});
  CHECK(durable.more);
  // A channel whose first batch is in flight reads as never written (epoch 0: the caller derives it).
  HistoryPage fresh = pageOf(9, 3, {1, 2, 3}, false);
  clampPage(fresh, ChannelMeta{9, 0});
  CHECK(fresh.msgs.empty());
  CHECK(fresh.epoch == 0);
  CHECK(fresh.lastSeq == 0);
}

TEST_CASE("a backward page is read below the durable position", "[durable_page]") {
  CHECK(durableQuery(HistoryQuery{0, 3, 10, 100}, ChannelMeta{1, 5}).before == 0);  // forward: cut after
  CHECK(durableQuery(HistoryQuery{100, 0, 10, 100}, ChannelMeta{1, 5}).before == 6);
  CHECK(durableQuery(HistoryQuery{4, 0, 10, 100}, ChannelMeta{1, 5}).before == 4);
}
