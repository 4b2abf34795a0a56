#include <catch2/catch.hpp>

#include <map>

#include "broadcast/sequencer.h"

using namespace webim::hub;

namespace {

// In-memory HistoryStore: enough for the sequencer (meta, dedup, commit), with failure injection.
class MemoryStore final : public HistoryStore {
 public:
  std::map<std::string, ChannelMeta> metas;
  std::map<std::pair<std::string, std::string>, DedupRecord> dedups;
  std::vector<StoredMessage> messages;
  bool failCommit = false;
  bool failReads = false;
  int metaBatches = 0;  // loadMetas calls

  std::optional<ChannelMeta> loadMeta(std::string_view channel) override {
    if (failReads) throw HistoryStoreError("read failed");
    auto it = metas.find(std::string(channel));
    if (it == metas.end()) return std::nullopt;
    return it->second;
  }
  std::optional<DedupRecord> loadDedup(std::string_view from, std::string_view cid) override {
    if (failReads) throw HistoryStoreError("read failed");
    auto it = dedups.find({std::string(from), std::string(cid)});
    if (it == dedups.end()) return std::nullopt;
    return it->second;
  }
  void commit(const WriteSet& batch, bool) override {
    if (failCommit) throw HistoryStoreError("disk full");
    for (const auto& m : batch.messages) messages.push_back(m);
    for (const auto& e : batch.metas) metas[e.channel] = e.meta;
    for (const auto& e : batch.dedups) dedups[{e.from, e.cid}] = e.record;
  }
  std::vector<std::optional<ChannelMeta>> loadMetas(const std::vector<std::string>& channels) override {
    ++metaBatches;
    std::vector<std::optional<ChannelMeta>> out;
    for (const std::string& channel : channels) out.push_back(loadMeta(channel));
    return out;
  }
  HistoryPage readPage(std::string_view, const HistoryQuery&) override { return {}; }
  uint64_t countChannels() override { return metas.size(); }
};

struct Fixture {
  MemoryStore store;
  uint64_t nextEpoch = 100;
  static constexpr int64_t kTtlMs = 86400 * 1000;
  // Derived per channel, as the hub does from its store's seed: the same channel, the same epoch.
  std::map<std::string, uint64_t> epochs;
  Sequencer seq{store, [this](std::string_view ch) {
    auto [it, added] = epochs.try_emplace(std::string(ch), nextEpoch);
    if (added) ++nextEpoch;
    return it->second;
  }, kTtlMs};

  PublishOutcome pub(std::string ch, std::string cid, int64_t now = 1000, std::string from = "u1") {
    return seq.sequence({std::move(ch), std::move(from), std::move(cid), "{\"a\":1}"}, now);
  }
  void commit() {
    REQUIRE_NOTHROW(store.commit(seq.pending(), true));
    seq.commitSucceeded();
  }
};

}  // namespace

TEST_CASE("seq starts at 1 and increases by one per channel", "[sequencer]") {
  Fixture f;
  auto a1 = f.pub("room:a", "c1");
  auto a2 = f.pub("room:a", "c2");
  auto b1 = f.pub("room:b", "c3");
  CHECK(a1.status == PublishStatus::Sequenced);
  CHECK(a1.seq == 1);
  CHECK(a2.seq == 2);
  CHECK(b1.seq == 1);
  CHECK(a1.epoch == a2.epoch);
  CHECK(a1.epoch != b1.epoch);  // one random epoch per channel
  CHECK(a1.pending);
  REQUIRE(f.seq.pending().messages.size() == 3);
  REQUIRE(f.seq.pending().metas.size() == 2);  // one meta per channel, carrying the last seq
  CHECK(f.seq.pending().metas[0].meta == ChannelMeta{a1.epoch, 2});
  CHECK(f.seq.pending().dedups.size() == 3);
  f.commit();
  CHECK_FALSE(f.seq.hasPending());
  CHECK(f.seq.createdChannels() == 2);
  auto a3 = f.pub("room:a", "c4");
  CHECK(a3.seq == 3);
  CHECK(a3.epoch == a1.epoch);
}

TEST_CASE("a channel's state is loaded from the store on first use", "[sequencer]") {
  Fixture f;
  f.store.metas["room:x"] = ChannelMeta{77, 41};
  auto out = f.pub("room:x", "c1");
  CHECK(out.epoch == 77);
  CHECK(out.seq == 42);
  f.commit();
  CHECK(f.seq.createdChannels() == 0);
}

TEST_CASE("epoch 0 is never used", "[sequencer]") {
  MemoryStore store;
  Sequencer seq(store, [](std::string_view) { return uint64_t{0}; }, 1000);
  CHECK(seq.sequence({"room:a", "u", "c", "1"}, 0).epoch == 1);
}

TEST_CASE("a durable (from, cid) returns the first result and stores nothing", "[sequencer][dedup]") {
  Fixture f;
  auto first = f.pub("room:a", "c1");
  f.commit();
  auto again = f.pub("room:a", "c1");
  CHECK(again.status == PublishStatus::Duplicate);
  CHECK(again.seq == first.seq);
  CHECK(again.epoch == first.epoch);
  CHECK_FALSE(again.pending);
  CHECK_FALSE(f.seq.hasPending());
  // The same cid from another sender is another publish.
  auto other = f.pub("room:a", "c1", 1000, "u2");
  CHECK(other.status == PublishStatus::Sequenced);
  CHECK(other.seq == 2);
}

TEST_CASE("the same cid for another channel is bad_request", "[sequencer][dedup]") {
  Fixture f;
  f.pub("room:a", "c1");
  SECTION("in the same batch") {
    CHECK(f.pub("room:b", "c1").status == PublishStatus::BadRequest);
  }
  SECTION("after commit") {
    f.commit();
    CHECK(f.pub("room:b", "c1").status == PublishStatus::BadRequest);
    CHECK_FALSE(f.seq.hasPending());
  }
}

TEST_CASE("a duplicate within one batch gets the one pending result", "[sequencer][dedup]") {
  Fixture f;
  auto first = f.pub("room:a", "c1");
  auto second = f.pub("room:a", "c1");
  CHECK(second.status == PublishStatus::Duplicate);
  CHECK(second.pending);
  CHECK(second.seq == first.seq);
  CHECK(f.seq.pending().messages.size() == 1);
  CHECK(f.seq.pending().dedups.size() == 1);
}

TEST_CASE("an empty cid is not deduplicated", "[sequencer][dedup]") {
  Fixture f;
  CHECK(f.pub("room:a", "").seq == 1);
  CHECK(f.pub("room:a", "").seq == 2);
  CHECK(f.seq.pending().dedups.empty());
}

TEST_CASE("dedup records older than the TTL are ignored", "[sequencer][dedup]") {
  Fixture f;
  f.pub("room:a", "c1", 1000);
  f.commit();
  auto late = f.pub("room:a", "c1", 1000 + Fixture::kTtlMs + 1);
  CHECK(late.status == PublishStatus::Sequenced);
  CHECK(late.seq == 2);
  auto inTime = f.pub("room:b", "c9", 5000);
  f.commit();
  CHECK(f.pub("room:b", "c9", 5000 + Fixture::kTtlMs).status == PublishStatus::Duplicate);
  (void)inTime;
}

TEST_CASE("a failed commit rolls back to the last durable seq", "[sequencer][rollback]") {
  Fixture f;
  auto a1 = f.pub("room:a", "c1");
  f.commit();
  f.pub("room:a", "c2");
  f.pub("room:a", "c3");
  auto newChannel = f.pub("room:new", "c4");
  f.store.failCommit = true;
  REQUIRE_THROWS_AS(f.store.commit(f.seq.pending(), true), HistoryStoreError);
  f.seq.commitFailed();
  CHECK_FALSE(f.seq.hasPending());
  CHECK(f.seq.channelState("room:a") == ChannelMeta{a1.epoch, 1});
  CHECK_FALSE(f.seq.channelState("room:new"));  // never durable: forgotten
  f.store.failCommit = false;

  // The retries (same cids) are sequenced again from the durable seq.
  auto retry = f.pub("room:a", "c2");
  CHECK(retry.status == PublishStatus::Sequenced);
  CHECK(retry.seq == 2);
  auto retryNew = f.pub("room:new", "c4");
  CHECK(retryNew.seq == 1);
  CHECK(retryNew.epoch == newChannel.epoch);  // derived: the epoch announced for it all along
  f.commit();
  CHECK(f.store.metas["room:a"] == ChannelMeta{a1.epoch, 2});
  CHECK(f.store.messages.size() == 3);
}

TEST_CASE("store read errors are unavailable and change nothing", "[sequencer]") {
  Fixture f;
  f.store.failReads = true;
  CHECK(f.pub("room:a", "c1").status == PublishStatus::Unavailable);
  CHECK(f.pub("room:a", "").status == PublishStatus::Unavailable);
  CHECK_FALSE(f.seq.hasPending());
  f.store.failReads = false;
  CHECK(f.pub("room:a", "c1").seq == 1);
}

TEST_CASE("positions: never-written channels are (their epoch, 0) and cost nothing; known ones are read in one batch", "[sequencer]") {
  Fixture f;
  f.store.metas["room:old"] = {77, 5};
  f.store.metas["user:42"] = {78, 9};
  std::string error;
  std::vector<std::string> asked = {"room:old", "dm:x:never", "user:42", "room:new"};
  auto positions = f.seq.positions(asked, error);
  REQUIRE(positions);
  CHECK(*positions == std::vector<ChannelMeta>{{77, 5}, {f.seq.epochFor("dm:x:never"), 0}, {78, 9}, {f.seq.epochFor("room:new"), 0}});
  CHECK(f.store.metaBatches == 1);
  CHECK_FALSE(f.seq.hasPending());  // nothing to write
  // Nothing is kept: a million inboxes attached after a restart would stay in memory for
  // channel_idle_timeout (~126 B each) although most are never written again.
  CHECK(f.seq.channelsInMemory() == 0);
  positions = f.seq.positions(asked, error);
  CHECK(f.store.metaBatches == 2);
  // Its first message makes a never-written channel's epoch.
  const uint64_t announced = (*positions)[3].epoch;
  auto first = f.pub("room:new", "n1");
  CHECK(first.epoch == announced);
  f.commit();
  positions = f.seq.positions({"room:new"}, error);
  CHECK(positions->front() == ChannelMeta{first.epoch, 1});
  CHECK(f.store.metaBatches == 2);  // written by this hub: in memory
  f.store.failReads = true;
  CHECK_FALSE(f.seq.positions({"room:unknown"}, error));
  CHECK(error == "read failed");
}

TEST_CASE("evictIdle forgets channels unused for a whole period, and they come back from the store", "[sequencer]") {
  Fixture f;
  auto a = f.pub("room:a", "a1");
  auto b = f.pub("room:b", "b1");
  f.commit();
  CHECK(f.seq.channelsInMemory() == 2);
  f.seq.evictIdle();          // both become idle
  f.pub("room:a", "a2");      // room:a used again: recent
  f.commit();
  f.seq.evictIdle();          // room:b idle for a whole period: gone
  CHECK(f.seq.channelsInMemory() == 1);
  CHECK_FALSE(f.seq.channelState("room:b"));
  // Still in the store: the next publish continues its seq in the same epoch.
  auto b2 = f.pub("room:b", "b2");
  CHECK(b2.epoch == b.epoch);
  CHECK(b2.seq == 2);
  f.commit();
  auto a3 = f.pub("room:a", "a3");
  CHECK(a3.epoch == a.epoch);
  CHECK(a3.seq == 3);
}

// Pipelined group commit: batches are sealed (written, waiting for their sync) while the next one
// is staged, and become durable in order.
TEST_CASE("pipelined: sealed batches become durable in order; only durable positions are told", "[sequencer][pipeline]") {
  Fixture f;
  auto a1 = f.pub("room:a", "c1");
  f.seq.seal();
  auto a2 = f.pub("room:a", "c2");
  auto b1 = f.pub("room:b", "c3");
  f.seq.seal();
  CHECK(a2.seq == 2);  // continues the batch in flight
  CHECK(f.seq.inFlight() == 2);
  CHECK_FALSE(f.seq.hasPending());
  // Nothing durable yet: others see seq 0 (no store read for channels in flight).
  std::string error;
  CHECK(*f.seq.positions({"room:a", "room:b"}, error) == std::vector<ChannelMeta>{{a1.epoch, 0}, {b1.epoch, 0}});
  CHECK(f.seq.channelState("room:a") == ChannelMeta{a1.epoch, 0});
  CHECK(f.store.metaBatches == 0);
  // A cid in flight is a pending duplicate, whichever batch holds it.
  auto again = f.pub("room:a", "c1");
  CHECK(again.status == PublishStatus::Duplicate);
  CHECK(again.pending);
  CHECK(again.seq == 1);

  WriteSet first = f.seq.commitSucceeded();
  CHECK(first.messages.size() == 1);
  CHECK(f.seq.channelState("room:a") == ChannelMeta{a1.epoch, 1});
  CHECK(f.seq.channelState("room:b") == ChannelMeta{b1.epoch, 0});
  CHECK(f.seq.createdChannels() == 1);
  WriteSet second = f.seq.commitSucceeded();
  CHECK(second.messages.size() == 2);
  CHECK(f.seq.channelState("room:a") == ChannelMeta{a1.epoch, 2});
  CHECK(f.seq.channelState("room:b") == ChannelMeta{b1.epoch, 1});
  CHECK(f.seq.inFlight() == 0);
  // Durable now: the store answers for the cid.
  f.store.dedups[{"u1", "c1"}] = DedupRecord{"room:a", a1.epoch, 1, 1000};
  auto later = f.pub("room:a", "c1");
  CHECK(later.status == PublishStatus::Duplicate);
  CHECK_FALSE(later.pending);
}

TEST_CASE("pipelined: a failed batch fails every later one and the current one", "[sequencer][pipeline][rollback]") {
  Fixture f;
  auto a1 = f.pub("room:a", "c1");
  f.commit();
  f.pub("room:a", "c2");
  f.seq.seal();
  f.pub("room:a", "c3");
  auto fresh = f.pub("room:new", "c4");
  f.seq.seal();
  f.pub("room:a", "c5");  // staged, not sealed
  REQUIRE(f.seq.batchesInFlight().size() == 2);
  f.seq.commitFailed();
  CHECK(f.seq.inFlight() == 0);
  CHECK_FALSE(f.seq.hasPending());
  CHECK(f.seq.channelState("room:a") == ChannelMeta{a1.epoch, 1});
  CHECK_FALSE(f.seq.channelState("room:new"));  // never durable: forgotten
  // The retries continue from the durable seq, in the epoch announced before.
  CHECK(f.pub("room:a", "c3").seq == 2);
  auto retry = f.pub("room:new", "c4");
  CHECK(retry.seq == 1);
  CHECK(retry.epoch == fresh.epoch);
}

TEST_CASE("pipelined: channels written by a batch in flight are never evicted", "[sequencer][pipeline]") {
  Fixture f;
  f.pub("room:a", "c1");
  f.seq.seal();
  f.seq.evictIdle();
  f.seq.evictIdle();  // two periods: an unpinned channel would be gone
  CHECK(f.seq.channelsInMemory() == 1);
  REQUIRE_NOTHROW(f.store.commit(f.seq.batchesInFlight().front(), true));
  f.seq.commitSucceeded();
  f.seq.evictIdle();
  f.seq.evictIdle();
  CHECK(f.seq.channelsInMemory() == 0);
  CHECK(f.pub("room:a", "c2").seq == 2);  // read from the store again
}

namespace {

// Fast channels (namespace "live"): their epoch comes from a generation the test moves, as the hub
// does after an unclean start or a failed sync (run_marker.h).
struct FastFixture : Fixture {
  uint64_t generation = 1;
  uint64_t fastEpoch(std::string_view ch) const { return 7000 + generation * 100 + ch.size(); }
};

bool isLive(std::string_view ch) { return ch.substr(0, 5) == "live:"; }

Sequencer::EpochSource fastEpochs(FastFixture& f) {
  return [&f](std::string_view ch) { return ch.substr(0, 5) == "live:" ? f.fastEpoch(ch) : uint64_t{42}; };
}

}  // namespace

TEST_CASE("fast: a sealed (written) batch is told at once, durable channels only once synced", "[sequencer][fast]") {
  FastFixture f;
  Sequencer s(f.store, fastEpochs(f), FastFixture::kTtlMs);
  s.setModes(isLive, isLive);
  auto l1 = s.sequence({"live:a", "u", "c1", "1"}, 1000);
  auto r1 = s.sequence({"room:a", "u", "c2", "1"}, 1000);
  CHECK(s.channelState("live:a") == ChannelMeta{l1.epoch, 0});  // staged: not told yet
  s.seal();
  CHECK(s.channelState("live:a") == ChannelMeta{l1.epoch, 1});  // written: published, told
  CHECK(s.channelState("room:a") == ChannelMeta{r1.epoch, 0});  // durable mode: not before its sync
  CHECK(s.durableState("live:a") == ChannelMeta{l1.epoch, 0});  // what retention counts from
  std::string error;
  CHECK(*s.positions({"live:a"}, error) == std::vector<ChannelMeta>{{l1.epoch, 1}});
  s.commitSucceeded();
  CHECK(s.channelState("room:a") == ChannelMeta{r1.epoch, 1});
  CHECK(s.durableState("live:a") == ChannelMeta{l1.epoch, 1});
}

TEST_CASE("fast: a failed sync after a fast publish says so; the new generation moves the channel to a new epoch at its durable seq", "[sequencer][fast][rollback]") {
  FastFixture f;
  Sequencer s(f.store, fastEpochs(f), FastFixture::kTtlMs);
  s.setModes(isLive, isLive);
  auto l1 = s.sequence({"live:a", "u", "c1", "1"}, 1000);
  s.seal();
  f.store.commit(s.batchesInFlight().front(), true);
  s.commitSucceeded();
  auto l2 = s.sequence({"live:a", "u", "c2", "1"}, 1000);  // published once written, then lost
  auto fresh = s.sequence({"live:new", "u", "c3", "1"}, 1000);
  s.seal();
  CHECK(s.channelState("live:a") == ChannelMeta{l1.epoch, 2});
  CHECK(s.commitFailed() == std::vector<std::string>{"live:a", "live:new"});
  f.generation = 2;
  s.rebaseEpochs();
  const auto a = s.channelState("live:a");
  REQUIRE(a);
  CHECK(a->lastSeq == 1);
  CHECK(a->epoch != l1.epoch);
  // Seq 2 comes again, in the new epoch: never (epoch, 2) for two messages.
  auto again = s.sequence({"live:a", "u", "c4", "1"}, 1000);
  CHECK(again.seq == 2);
  CHECK(again.epoch == a->epoch);
  CHECK(again.epoch != l2.epoch);
  auto retry = s.sequence({"live:new", "u", "c5", "1"}, 1000);
  CHECK(retry.seq == 1);
  CHECK(retry.epoch != fresh.epoch);
}

TEST_CASE("fast: a failed sync of durable channels only, or before any fast publish, needs no new epoch", "[sequencer][fast][rollback]") {
  FastFixture f;
  Sequencer s(f.store, fastEpochs(f), FastFixture::kTtlMs);
  s.setModes(isLive, isLive);
  s.sequence({"room:a", "u", "c1", "1"}, 1000);
  s.seal();
  CHECK(s.commitFailed().empty());
  s.sequence({"live:a", "u", "c2", "1"}, 1000);  // staged, never written: never shown
  CHECK(s.commitFailed().empty());
}

TEST_CASE("fast: a stored channel of another generation is told in the current epoch at its stored seq", "[sequencer][fast]") {
  FastFixture f;
  f.store.metas["live:a"] = ChannelMeta{555, 9};
  f.store.metas["room:a"] = ChannelMeta{666, 4};
  Sequencer s(f.store, fastEpochs(f), FastFixture::kTtlMs);
  s.setModes(isLive, isLive);
  std::string error;
  CHECK(*s.positions({"live:a", "room:a"}, error) == std::vector<ChannelMeta>{{f.fastEpoch("live:a"), 9}, {666, 4}});
  CHECK(s.toldEpoch("live:a", 555) == f.fastEpoch("live:a"));
  CHECK(s.toldEpoch("room:a", 666) == 666);
  auto next = s.sequence({"live:a", "u", "c1", "1"}, 1000);
  CHECK(next.seq == 10);
  CHECK(next.epoch == f.fastEpoch("live:a"));
  CHECK(s.pending().metas.front().meta == ChannelMeta{f.fastEpoch("live:a"), 10});  // stored so with this write
}

TEST_CASE("fast: a channel first written by two batches that both failed is told at seq 0 of its new epoch", "[sequencer][fast][rollback]") {
  FastFixture f;
  Sequencer s(f.store, fastEpochs(f), FastFixture::kTtlMs);
  s.setModes(isLive, isLive);
  auto first = s.sequence({"live:n", "u", "c1", "1"}, 1000);
  s.seal();
  s.sequence({"live:n", "u", "c2", "1"}, 1000);
  s.seal();
  CHECK(s.commitFailed() == std::vector<std::string>{"live:n"});
  f.generation = 2;
  s.rebaseEpochs();
  // Kept in memory (its subscribers are told by a sync), at seq 0, in the new epoch.
  const auto told = s.channelState("live:n");
  REQUIRE(told);
  CHECK(told->lastSeq == 0);
  CHECK(told->epoch == f.fastEpoch("live:n"));
  CHECK(told->epoch != first.epoch);
  CHECK(s.sequence({"live:n", "u", "c3", "1"}, 1000).seq == 1);
}

TEST_CASE("generational but not fast (a namespace delivered fast before): durable positions, epochs from the generation", "[sequencer][fast]") {
  FastFixture f;
  f.store.metas["live:a"] = ChannelMeta{555, 1};  // stored by a run where live was fast
  Sequencer s(f.store, fastEpochs(f), FastFixture::kTtlMs);
  s.setModes([](std::string_view) { return false; }, isLive);
  auto next = s.sequence({"live:a", "u", "c1", "1"}, 1000);
  CHECK(next.seq == 2);
  CHECK(next.epoch == f.fastEpoch("live:a"));  // never (555, 2): 555's seq 2 may have been shown
  s.seal();
  CHECK(s.channelState("live:a") == ChannelMeta{f.fastEpoch("live:a"), 1});  // not fast: durable only
  CHECK(s.commitFailed().empty());
}
