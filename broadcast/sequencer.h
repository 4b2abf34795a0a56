// Sequencer: the hub's per-channel (epoch, seq) state machine and idempotency check. Pure logic:
// it reads from a HistoryStore (meta and dedup records on first use) but never writes. The loop
// writes pending(), seals it (seal(): the batch is in flight, waiting for its sync, while the next
// one is staged) and reports the outcome of the oldest batch in flight with commitSucceeded(), or
// of all of them with commitFailed() (docs/architecture.md "Pipelined group commit").
//
// Contract:
//  - seq starts at 1 per channel and increases by exactly 1 per sequenced publish.
//  - The epoch of a channel is random (never 0), created once when the channel is first written.
//  - (from, cid) already durable -> the first result; already in the current batch -> the same
//    pending result (valid only if the batch commits); for another channel -> BadRequest.
//    An empty cid means "not idempotent": no lookup and no dedup record.
//  - Batches become durable in the order they were sealed. commitFailed() rolls every channel of
//    every batch in flight and of the current one back to its last durable seq (channels never
//    made durable are forgotten and reloaded from the store on next use), so nothing past the
//    durable seq is ever acked or published: a batch behind a failed one fails with it.
//  - Positions told to others (positions(), channelState()) are durable ones only: a seq still in
//    flight is never announced (the store may already show it to a read; the hub clamps history
//    pages with channelState()). Except on channels of `fast` namespaces (setModes,
//    delivery_mode.h): their messages are published once written, so their told position is the
//    last written seq. When a batch that was so shown fails, commitFailed() says so and the hub
//    moves every generational channel to a new epoch (rebaseEpochs) before anything else is
//    sequenced.
//  - A generational channel's epoch is always epochFor(channel) (the hub derives it from the
//    store's seed and the run's generation, run_marker.h): a stored meta with another epoch is taken
//    at its seq under the current one (and stored so with the channel's next write).
//  - A channel never written has no record: its position is (epochFor(channel), 0), the epoch its
//    first message will carry, and asking for it (a subscribe, an inbox attach) writes nothing and
//    keeps nothing in memory.
//  - Channels idle for two eviction periods are forgotten (evictIdle), except those a batch in
//    flight wrote; they are read from the store again when used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broadcast/history_store.h"

namespace webim::hub {

struct PublishInput {
  std::string channel;
  std::string from;
  std::string cid;   // empty: no idempotency
  std::string data;  // JSON value, verbatim (empty for a delete)
  uint64_t editOf = 0;    // an edit of this seq of the channel (message_edits.h)
  uint64_t deleteOf = 0;  // a delete of this seq
  // A DM notice (conversation_notices.h): the dm message it announces; no data.
  std::string noticeChannel{};
  uint64_t noticeSeq = 0;
  int64_t noticeTsMs = 0;  // the dm message's ts (a peer hub's notice): the conversation's activity
  // The dedup key's sender when it is not `from` (a notice sent by a peer hub: no token subject can
  // be it, conversation_notices.h). Empty: `from`.
  std::string dedupFrom{};
};

enum class PublishStatus {
  Sequenced,    // new message in the current batch (ack after commit)
  Duplicate,    // (from, cid) seen before: reply epoch/seq; if pending, only after commit
  BadRequest,   // same cid for another channel
  Unavailable,  // the store could not be read; outcome unknown, client retries with same cid
};

struct PublishOutcome {
  PublishStatus status = PublishStatus::Unavailable;
  uint64_t epoch = 0;
  uint64_t seq = 0;
  bool pending = false;  // depends on the current batch being committed
  size_t messageIndex = SIZE_MAX;  // Sequenced: its index in pending().messages (others are staged between)
  std::string message;   // for BadRequest / Unavailable
};

class Sequencer {
 public:
  // The epoch a channel without a record gets (derived from the store's epoch seed, so it is the
  // same whenever it is asked: the position of a never-written channel is (epoch, 0)).
  using EpochSource = std::function<uint64_t(std::string_view channel)>;
  using FastPredicate = std::function<bool(std::string_view channel)>;

  // dedupTtlMs: dedup records older than this are ignored (the cid may be reused).
  Sequencer(HistoryStore& store, EpochSource epochs, int64_t dedupTtlMs);

  // Which channels are delivered fast, and which take their epoch from the generation (default:
  // none). Set before the first use.
  void setModes(FastPredicate fast, FastPredicate generational) {
    fast_ = std::move(fast);
    generational_ = std::move(generational);
  }

  PublishOutcome sequence(PublishInput input, int64_t nowMs);
  // The outcome when (from, cid) was seen before (Duplicate, BadRequest) or cannot be looked up
  // (Unavailable); nullopt when sequence() would sequence it. What an edit checks first, so that a
  // retry is answered with its first result even though its target is deleted by now.
  std::optional<PublishOutcome> seenBefore(const PublishInput& input, int64_t nowMs);

  // Records to commit for the current batch (messages in sequencing order, one meta per channel).
  const WriteSet& pending() const { return batch_; }
  bool hasPending() const { return !batch_.empty(); }

  // The current batch was written: it waits for its sync while the next one is staged.
  void seal();
  size_t inFlight() const noexcept { return inFlight_.size(); }
  // Every batch in flight, oldest first (a failed sync: the store undoes them).
  const std::deque<WriteSet>& batchesInFlight() const noexcept { return inFlight_; }
  // The oldest batch in flight (the current one when none is sealed) is durable: its channels'
  // durable seqs advance. Returns it (its messages are published now).
  WriteSet commitSucceeded();
  // The oldest batch in flight failed, hence every later one and the current one: all roll back.
  // Returns the fast channels that had been told a seq past their durable one (their subscribers
  // may have seen messages that are gone): the caller takes a new generation, rebaseEpochs(), and
  // tells their subscribers the new epoch.
  std::vector<std::string> commitFailed();
  // Every generational channel in memory takes epochFor(channel) again (the generation changed).
  void rebaseEpochs();

  // Channels whose meta was first written by this process (for stats).
  uint64_t createdChannels() const { return createdChannels_; }
  // Where each channel's stream stands: (epoch, last durable seq); (epochFor(channel), 0) for a
  // channel never written. Channels not in memory are read in one batch (HistoryStore::loadMetas)
  // and not kept (a million inboxes attached after a restart would stay for channel_idle_timeout,
  // ~126 B each). Nullopt (with `error`) when the store cannot be read.
  std::optional<std::vector<ChannelMeta>> positions(const std::vector<std::string>& channels, std::string& error);
  // Forgets the channels not used since the previous call (call between batches, every idle period).
  void evictIdle();
  size_t channelsInMemory() const noexcept { return channels_.size() + idle_.size(); }
  // The epoch of a channel that has no record yet (its first message will carry it).
  uint64_t epochFor(std::string_view channel) const;
  // A record that rides with the current batch (a kick's revocation): committed with it, dropped
  // with it when the commit fails.
  void stage(Revocation revocation) { batch_.revocations.push_back(std::move(revocation)); }
  void stage(ReadCursor cursor) { batch_.cursors.push_back(std::move(cursor)); }
  std::vector<ReadCursor>& stagedCursors() { return batch_.cursors; }  // own publishes join them (own_reads.h)
  void stage(PresenceLastSeen seen) { batch_.lastSeen.push_back(std::move(seen)); }
  void stage(Redaction redaction) { batch_.redactions.push_back(std::move(redaction)); }
  void stage(ConversationTouch touch) { batch_.conversations.push_back(std::move(touch)); }
  void stage(OutboxEntry entry) { batch_.outbox.push_back(std::move(entry)); }
  void stageDelivered(OutboxEntry entry) { batch_.outboxDone.push_back(std::move(entry)); }
  // The durable position of a channel held in memory: (epoch, durable seq), (epoch, 0) while only
  // a batch in flight wrote it; nullopt when not in memory (then the store holds only durable
  // records of it: nothing in flight is ever evicted).
  std::optional<ChannelMeta> channelState(std::string_view channel) const;
  // The same, durable only also for fast channels (what retention may count from).
  std::optional<ChannelMeta> durableState(std::string_view channel) const;
  // The epoch to tell for a channel not in memory whose store record says `stored` (generational
  // channels are at epochFor(channel)).
  uint64_t toldEpoch(std::string_view channel, uint64_t stored) const;

 private:
  struct ChannelState {
    uint64_t epoch = 0;
    uint64_t durableSeq = 0;
    uint64_t lastSeq = 0;
    bool durable = false;  // a meta record exists in the store
    size_t metaIndex = 0;  // index into batch_.metas while touched by the current batch
    bool touched = false;
    uint32_t inFlight = 0;  // sealed batches not yet durable that wrote it (pins it in memory)
    bool fast = false;          // of a fast namespace: told up to shownSeq
    bool generational = false;  // its epoch is epochFor(channel)
    uint64_t shownSeq = 0;  // fast: the last seq written (published before its sync)
  };
  // The seq others may be told.
  static uint64_t told(const ChannelState& state) {
    if (state.fast) return state.shownSeq;
    return state.durable ? state.durableSeq : 0;
  }
  bool isFast(std::string_view channel) const { return fast_ && fast_(channel); }
  bool isGenerational(std::string_view channel) const { return generational_ && generational_(channel); }
  const ChannelState* peekChannel(std::string_view channel) const;

  static std::string dedupKey(std::string_view from, std::string_view cid);
  ChannelState* loadChannel(const std::string& channel, std::string& error);
  // The channel's state if in memory (an idle one is made recent again), else nullptr.
  ChannelState* findChannel(const std::string& channel);
  // Rolls a channel back to its durable seq (forgets it if never durable). Adds it to `shownLost`
  // when it was a fast channel told past it.
  void rollBack(const std::string& channel, std::vector<std::string>& shownLost);

  HistoryStore& store_;
  EpochSource epochs_;
  FastPredicate fast_;
  FastPredicate generational_;
  int64_t dedupTtlMs_;
  std::unordered_map<std::string, ChannelState> channels_;  // used since the last evictIdle()
  std::unordered_map<std::string, ChannelState> idle_;      // not used since: dropped at the next
  WriteSet batch_;
  std::vector<std::string> touched_;  // channels of batch_
  std::deque<WriteSet> inFlight_;     // sealed, oldest first
  std::unordered_map<std::string, DedupRecord> pendingDedup_;  // of batch_ and inFlight_
  uint64_t createdChannels_ = 0;
};

}  // namespace webim::hub
