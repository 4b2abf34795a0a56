// The dm notice outbox's send, retry and timeout logic (broadcast/notice_outbox.h), and its
// RocksDB records. Pure: no I/O, time is given.
#include <catch2/catch.hpp>

#include "broadcast/conversation_records.h"
#include "broadcast/notice_outbox.h"

using namespace webim::hub;

namespace {

OutboxEntry entry(uint64_t seq) { return OutboxEntry{"bob", "dm:alice:bob", seq, "alice", 1000 + static_cast<int64_t>(seq)}; }

NoticeOutbox::Limits limits() {
  NoticeOutbox::Limits l;
  l.maxInFlightPerPeer = 2;
  l.maxInMemory = 4;
  l.timeoutMs = 1000;
  l.backoffMinMs = 100;
  l.backoffMaxMs = 400;
  return l;
}

std::vector<uint64_t> seqs(const std::vector<NoticeOutbox::Send>& sends) {
  std::vector<uint64_t> out;
  for (const auto& s : sends) out.push_back(s.entry->seq);
  return out;
}

}  // namespace

TEST_CASE("outbox: in order, at most the in-flight cap per peer, delivered entries leave", "[outbox]") {
  NoticeOutbox box(2, limits());
  for (uint64_t s = 1; s <= 3; ++s) REQUIRE(box.add(1, entry(s)));
  CHECK(box.nextDueMs() == 0);
  auto sends = box.take(0);
  CHECK(seqs(sends) == std::vector<uint64_t>{1, 2});
  CHECK(sends[0].peer == 1);
  CHECK(box.take(10).empty());  // the cap
  CHECK(box.peer(1).inFlight == 2);
  CHECK(box.peer(1).waiting == 3);
  std::optional<OutboxEntry> done = box.delivered(sends[0].reqId);
  REQUIRE(done);
  CHECK(*done == entry(1));
  CHECK_FALSE(box.delivered(sends[0].reqId));  // answered twice: once
  CHECK(seqs(box.take(20)) == std::vector<uint64_t>{3});
  CHECK(box.size() == 2);
}

TEST_CASE("outbox: a refusal is sent again after a doubling backoff, capped", "[outbox]") {
  NoticeOutbox box(1, limits());
  box.add(0, entry(1));
  auto first = box.take(0);
  box.refused(first[0].reqId, 0);  // again at 100
  CHECK(box.peer(0).failures == 1);
  CHECK(box.nextDueMs() == 100);
  CHECK(box.take(99).empty());
  auto second = box.take(100);
  CHECK(seqs(second) == std::vector<uint64_t>{1});
  CHECK(second[0].reqId != first[0].reqId);
  CHECK_FALSE(box.delivered(first[0].reqId));  // the old send's late answer is ignored
  box.refused(second[0].reqId, 100);           // 200 later
  CHECK(box.take(299).empty());
  auto third = box.take(300);
  REQUIRE(third.size() == 1);
  box.refused(third[0].reqId, 300);  // 400 (the cap)
  CHECK(box.take(699).empty());
  auto fourth = box.take(700);
  REQUIRE(fourth.size() == 1);
  box.refused(fourth[0].reqId, 700);  // still 400
  CHECK(box.take(1099).empty());
  CHECK(seqs(box.take(1100)) == std::vector<uint64_t>{1});
  CHECK(box.peer(0).failures == 4);
}

TEST_CASE("outbox: a send not answered in time is sent again, and retries keep the order", "[outbox]") {
  NoticeOutbox box(1, limits());
  box.add(0, entry(1));
  box.add(0, entry(2));
  box.add(0, entry(3));
  CHECK(seqs(box.take(0)) == std::vector<uint64_t>{1, 2});
  CHECK(box.nextDueMs() == 1000);
  CHECK(box.take(999).empty());
  CHECK(box.take(1000).empty());  // 1 and 2 timed out: again at 1100, and 3 waits behind them
  CHECK(box.peer(0).failures == 2);
  CHECK(box.nextDueMs() == 1100);
  auto again = box.take(1100);
  CHECK(seqs(again) == std::vector<uint64_t>{1, 2});  // the oldest first
  REQUIRE(box.delivered(again[0].reqId));
  CHECK(seqs(box.take(1100)) == std::vector<uint64_t>{3});
}

TEST_CASE("outbox: an entry in backoff holds back the later ones of its peer, not other peers", "[outbox]") {
  NoticeOutbox box(2, limits());
  box.add(0, entry(1));
  auto first = box.take(0);
  box.refused(first[0].reqId, 0);  // e.g. no connection yet: again at 100
  box.add(0, entry(2));
  box.add(1, entry(7));
  CHECK(seqs(box.take(10)) == std::vector<uint64_t>{7});  // peer 1 is not held back
  CHECK(box.nextDueMs() == 100);
  CHECK(seqs(box.take(100)) == std::vector<uint64_t>{1, 2});  // in add order: 1 is stored before 2
}

TEST_CASE("outbox: bounded in memory, the rest stays in the store", "[outbox]") {
  NoticeOutbox box(1, limits());
  for (uint64_t s = 1; s <= 4; ++s) CHECK(box.add(0, entry(s)));
  CHECK_FALSE(box.overflowed());
  CHECK_FALSE(box.add(0, entry(5)));
  CHECK(box.overflowed());
  CHECK_FALSE(box.add(7, entry(6)));  // no such peer
  box.clearOverflow();
  CHECK_FALSE(box.overflowed());
  CHECK(box.size() == 4);
}

TEST_CASE("outbox records: key and value round-trip, keys of a user sort by dm, then seq", "[outbox]") {
  const OutboxEntry e = entry(300);
  const std::string key = conv::outboxKey(e);
  CHECK(key == std::string("obob\0dm:alice:bob\0\0\0\0\0\0\0\x01\x2c", 26));
  CHECK(conv::decodeOutbox(key, conv::encodeOutbox(e)) == e);
  CHECK(conv::outboxKey(entry(2)) < conv::outboxKey(entry(300)));
  CHECK_THROWS_AS(conv::decodeOutbox("obob", conv::encodeOutbox(e)), HistoryStoreError);
  CHECK_THROWS_AS(conv::decodeOutbox(key, "\x01"), HistoryStoreError);
}
