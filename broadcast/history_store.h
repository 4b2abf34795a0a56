// The hub's durable state behind one abstract interface: per-channel meta, the message log and
// the idempotency (dedup) records, and kick revocations. Two adapters: RocksDB (rocksdb_store.h,
// the embedded default) and PostgreSQL (postgres_store.h). Each keeps its own on-disk encoding
// with a version, migrated at open (store_migration.h; docs/durability.md "Store format and
// migrations"): nothing on disk is a wire message.
//
// Contract for every implementation:
//  - commit() is atomic: either every record of the WriteSet is stored or none is. With sync=true
//    it returns only after the batch is on stable storage (the hub acks only after that).
//  - One error convention: every failure (I/O, corruption, a lost server, a store that is down
//    and recovering) is a HistoryStoreError thrown by the call, reads and commit() alike;
//    "not found" is a value (nullopt). The caller answers `unavailable`: for a read, that request;
//    for a commit, every request of the batch, and the sequencer rolls back (Sequencer::commitFailed).
//  - A failed commit() leaves the store able to recover by itself: later calls retry (with a
//    bounded backoff, failing fast meanwhile) and undo the failed batch first if its outcome is
//    unknown, so the hub's rolled-back sequencer and the store agree again.
//  - Opening a store (the adapters' constructors) runs its pending migrations and refuses, with a
//    HistoryStoreError, a store written by a newer release.
//  - Pipelined commit (pipelined() true: RocksDB; PostgreSQL with pg_pipeline): write() stores a
//    batch without waiting for stable storage (atomic; later reads may already see it); sync(), called from the hub's
//    sync thread concurrently with any other call on the hub's thread, returns when every batch
//    written before it was called is durable. When a sync fails (HistoryStoreError), the caller
//    abandon()s every batch written since the last successful sync, oldest first: their outcome
//    is unknown, and the store fails every call (reads too) until it has undone them. sync() is
//    never called while a recovery may run (the hub waits for the sync thread after a failure).
//    commit(batch, true) does what write() + sync() do for one batch, in one call, and leaves
//    nothing readable of a batch whose sync failed (the hub commits batches with a kick so: an
//    abandoned batch never holds revocations, whose undo would need their previous values).
//  - loadDedup() may report a record older than the hub's dedup TTL as absent (the sequencer
//    ignores such records anyway; the PostgreSQL store's filter only knows younger keys).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace webim::hub {

class HistoryStoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Per-channel meta record. epoch is random, created once when the channel is first written and
// kept forever (retention never erases it); lastSeq is the last durable seq.
struct ChannelMeta {
  uint64_t epoch = 0;
  uint64_t lastSeq = 0;
  bool operator==(const ChannelMeta&) const = default;
};

// The first result of a publish identified by (from, cid).
struct DedupRecord {
  std::string channel;
  uint64_t epoch = 0;
  uint64_t seq = 0;
  int64_t tsMs = 0;  // when the first publish was sequenced; used for the TTL
  bool operator==(const DedupRecord&) const = default;
};

// One stored message (the Delivery a subscriber receives). data is the JSON value, verbatim.
struct StoredMessage {
  std::string channel;
  uint64_t epoch = 0;
  uint64_t seq = 0;
  std::string from;
  int64_t tsMs = 0;
  std::string data;
  // Edit and delete (docs/protocol.md "Edit and delete"): an entry of the log that edits or deletes
  // message `editOf`/`deleteOf` of the same channel (at most one is set; a delete has no data), and
  // a message a delete removed (`deleted`: its data is gone from the store).
  uint64_t editOf = 0;
  uint64_t deleteOf = 0;
  bool deleted = false;
  // A DM notice in an inbox (docs/protocol.md "Conversations"): message `noticeSeq` of channel
  // `noticeChannel` (a dm:) was stored; no data. Stored like an entry (conversation_records.h).
  std::string noticeChannel{};
  uint64_t noticeSeq = 0;
  bool operator==(const StoredMessage&) const = default;
};

// A stored message rewritten without its data, marked deleted (a delete entry's effect).
struct Redaction {
  std::string channel;
  uint64_t seq = 0;
  bool operator==(const Redaction&) const = default;
};

// What a message counts against HistoryQuery::maxBytes, the same on every store: about the size of
// its encoded Delivery (the page is sent as Deliveries; the bound keeps a page under the 1 MiB the
// protocol promises).
inline size_t pageBytes(const StoredMessage& m) { return m.channel.size() + m.from.size() + m.data.size() + 32; }

struct DedupEntry {
  std::string from;
  std::string cid;
  DedupRecord record;
};

struct MetaEntry {
  std::string channel;
  ChannelMeta meta;
};

// A kick made durable: the user's tokens and sids issued (iat) at or before notBeforeMs are
// refused from then on (docs/protocol.md section 7). Kept for `revocation_ttl`.
struct Revocation {
  std::string user;
  int64_t notBeforeMs = 0;
  bool operator==(const Revocation&) const = default;
};

// How far `user` has read `channel` (broadcast/read_cursors.h): the seq, kept as long as the store.
struct ReadCursor {
  std::string channel;
  std::string user;
  uint64_t seq = 0;
  bool operator==(const ReadCursor&) const = default;
};

// A user went offline (the last frontend holding them let go or was forgotten) at `seenMs`, Unix
// ms: their "last seen" (docs/architecture.md "Presence"). One per user; the latest wins.
struct PresenceLastSeen {
  std::string user;
  int64_t seenMs = 0;
  bool operator==(const PresenceLastSeen&) const = default;
};

// The conversation index (docs/architecture.md "Conversations"): the last activity of `user` in
// `channel`, kept by the user's inbox hub. A touch never moves an entry back (older ts: ignored).
struct ConversationTouch {
  std::string user;
  std::string channel;
  int64_t tsMs = 0;
  uint64_t seq = 0;
  bool operator==(const ConversationTouch&) const = default;
};

// One page of a user's conversations, most recent first (HistoryStore::loadConversations).
struct ConversationItem {
  std::string channel;
  int64_t tsMs = 0;
  uint64_t seq = 0;
  bool operator==(const ConversationItem&) const = default;
};
struct ConversationQuery {
  std::string user;
  uint32_t limit = 50;
  bool hasBefore = false;  // start below (beforeTs, beforeChannel), exclusive
  int64_t beforeTs = 0;
  std::string beforeChannel;
};
struct ConversationPage {
  std::vector<ConversationItem> items;
  bool more = false;
};

// A dm notice for an inbox on another shard, kept by the dm's hub until that shard's hub stored it
// (the outbox, notice_outbox.h): written with the dm message, deleted once acknowledged.
struct OutboxEntry {
  std::string user;  // the inbox's user
  std::string dm;    // the dm channel
  uint64_t seq = 0;  // the dm message's seq
  std::string from;  // its sender
  int64_t tsMs = 0;  // its ts
  bool operator==(const OutboxEntry&) const = default;
};

// Everything one group commit writes.
struct WriteSet {
  std::vector<StoredMessage> messages;
  std::vector<MetaEntry> metas;
  std::vector<DedupEntry> dedups;
  std::vector<Revocation> revocations;
  std::vector<ReadCursor> cursors;  // one per (channel, user), the new value (never lower)
  std::vector<PresenceLastSeen> lastSeen;
  // Applied after `messages` (a message of the same batch may be redacted). Only in batches
  // committed whole (commit(batch, true)): abandon() never has to restore a redacted message.
  std::vector<Redaction> redactions;
  std::vector<ConversationTouch> conversations{};  // the conversation index; not undone by abandon()
  std::vector<OutboxEntry> outbox{};      // dm notices for other shards (undone with their batch)
  std::vector<OutboxEntry> outboxDone{};  // ... delivered: deleted
  bool empty() const {
    return messages.empty() && metas.empty() && dedups.empty() && revocations.empty() && cursors.empty() &&
           lastSeen.empty() && redactions.empty() && conversations.empty() && outbox.empty() && outboxDone.empty();
  }
};

// A page request: before/after are exclusive seq bounds; before == 0 means "no upper bound".
// When before != 0 the page holds the newest `limit` messages below it; otherwise the oldest
// `limit` messages above `after`. Pages are always returned ascending by seq.
struct HistoryQuery {
  uint64_t before = 0;
  uint64_t after = 0;
  uint32_t limit = 0;
  size_t maxBytes = 0;  // bound on the pageBytes() sum of a page; a page always holds >= 1 message
};

struct HistoryPage {
  uint64_t epoch = 0;    // 0 when the channel has never been written
  uint64_t lastSeq = 0;  // the channel's last durable seq
  std::vector<StoredMessage> msgs;
  bool more = false;   // more messages exist beyond the page in the paging direction
};

// Retention of one channel (HistoryStore::trimHistory). Deletes the channel's oldest messages:
// every message with seq <= lastSeq - keepLast, and the run of oldest messages whose tsMs is below
// minTsMs (up to the first message at or after it: ts follow seq, a clock step back only delays
// the deletion). Never touches the meta record or any dedup record.
struct TrimRequest {
  uint64_t keepLast = UINT64_MAX;  // UINT64_MAX: no count limit
  int64_t minTsMs = INT64_MIN;     // INT64_MIN: no age limit
  uint64_t maxDeletes = 1000;      // work bound of one call (messages deleted or scanned)
  // The channel's last durable seq as the hub knows it: with a batch in flight the store's meta is
  // already past it (pipelined commit), and a failed sync would take those messages back. keepLast
  // counts from here and nothing above it is deleted.
  uint64_t durableLast = UINT64_MAX;
};

struct TrimResult {
  uint64_t deleted = 0;  // messages deleted (RocksDB: an upper bound, range deletes are blind)
  bool more = false;     // the bound was hit: call again for the rest
};

class HistoryStore {
 public:
  virtual ~HistoryStore() = default;

  virtual std::optional<ChannelMeta> loadMeta(std::string_view channel) = 0;
  // A random secret made with the store (written synced on first use) and kept as long as it: the
  // hub derives from it the epoch of every channel that has no record yet, so telling a subscriber
  // where a never-written channel stands writes nothing, and its first message carries that epoch.
  // A new store (history lost) has a new seed, hence new epochs. Throws HistoryStoreError.
  virtual std::string epochSeed() { return "test-double"; }
  // Small named values of the hub's own (the run marker, run_marker.h), kept as long as the store.
  // storeValue() is durable when it returns. Throw HistoryStoreError. The defaults keep nothing
  // (test doubles: every start is a first run).
  virtual std::optional<std::string> loadValue(std::string_view /*name*/) { return std::nullopt; }
  virtual void storeValue(std::string_view /*name*/, std::string_view /*value*/) {}
  // The metas of many channels at once (one round trip on PostgreSQL, one MultiGet on RocksDB),
  // in the order asked. The default asks one by one (test doubles).
  virtual std::vector<std::optional<ChannelMeta>> loadMetas(const std::vector<std::string>& channels) {
    std::vector<std::optional<ChannelMeta>> out;
    out.reserve(channels.size());
    for (const std::string& channel : channels) out.push_back(loadMeta(channel));
    return out;
  }
  virtual std::optional<DedupRecord> loadDedup(std::string_view from, std::string_view cid) = 0;
  // Stores the whole batch or, throwing HistoryStoreError, nothing (as far as later reads can
  // tell: a batch of unknown outcome is undone before the next call, see above).
  virtual void commit(const WriteSet& batch, bool sync) = 0;
  // Pipelined commit (see above); a store that does not pipeline only has commit().
  virtual bool pipelined() const { return false; }
  virtual void write(const WriteSet& batch) { commit(batch, false); }
  virtual void sync() {}
  virtual void abandon(const WriteSet& /*batch*/) {}
  virtual HistoryPage readPage(std::string_view channel, const HistoryQuery& query) = 0;
  // One message by seq (nullopt: never written, or trimmed): a one-message page read.
  std::optional<StoredMessage> loadMessage(std::string_view channel, uint64_t seq) {
    if (seq == 0) return std::nullopt;
    HistoryPage page = readPage(channel, HistoryQuery{0, seq - 1, 1, SIZE_MAX});
    if (page.msgs.empty() || page.msgs.front().seq != seq) return std::nullopt;
    return std::move(page.msgs.front());
  }
  // Number of channels with a meta record (may scan; call at start, not per request).
  virtual uint64_t countChannels() = 0;

  // Retention. listChannels: up to `limit` channel names with a meta record, in the store's order,
  // strictly after `after` ("" = from the first). trimHistory: see TrimRequest; a history read
  // then starts at the oldest kept seq. Both throw HistoryStoreError on store errors; a trim is
  // not synced (a crash may undo it; the next pass redoes it).
  // The defaults (no channels, nothing deleted) keep everything: for test doubles.
  virtual std::vector<std::string> listChannels(std::string_view /*after*/, size_t /*limit*/) { return {}; }
  virtual TrimResult trimHistory(std::string_view /*channel*/, const TrimRequest& /*request*/) { return {}; }

  // Kick revocations (WriteSet::revocations): those with notBeforeMs >= sinceMs (one per user, the
  // latest), and the removal of those older than beforeMs. Throw HistoryStoreError on store errors.
  virtual std::vector<Revocation> loadRevocations(int64_t /*sinceMs*/) { return {}; }
  virtual void trimRevocations(int64_t /*beforeMs*/) {}
  // Each user's last seen (PresenceLastSeen), 0 when none is stored, in the order asked.
  virtual std::vector<int64_t> loadLastSeen(const std::vector<std::string>& users) {
    return std::vector<int64_t>(users.size(), 0);
  }

  // Read cursors (WriteSet::cursors): the seq of each (channel, user) asked, in order, 0 for none
  // (`seq` of the keys is ignored). One MultiGet / one round trip. Throws HistoryStoreError. The
  // default keeps none (test doubles). A cursor of a batch whose sync failed stays when a read
  // set it (what its reader asked for, never past a durable seq); one a publish moved onto the
  // batch's own messages (own reads) goes back to the last durable seq (RocksDB: abandon()).
  virtual std::vector<uint64_t> loadCursors(const std::vector<ReadCursor>& keys) {
    return std::vector<uint64_t>(keys.size(), 0);
  }

  // Unread counts (docs/architecture.md "Read cursors"): for each range (channel, after, upTo], how
  // many of its seqs are no message a reader counts: edit and delete entries, and deleted (or
  // erased) messages. Read with the cursors, before the batch's writes; cost grows with the number
  // of such seqs in the ranges (an index, never a scan of the messages). Throws HistoryStoreError.
  // The default counts none (test doubles).
  struct SeqRange {
    std::string channel;
    uint64_t after = 0;
    uint64_t upTo = 0;
  };
  virtual std::vector<uint64_t> countUncounted(const std::vector<SeqRange>& ranges) {
    return std::vector<uint64_t>(ranges.size(), 0);
  }

  // Erasing a user (erase_job.h): the per-sender index (every message a sender wrote: written with
  // the message in the same commit). eraseSender removes the data of up to `limit` of `sender`'s
  // messages not yet deleted (as a delete does: flagged deleted, data gone), not synced (a crash may
  // undo a slice; the job redoes it). countSender: how many are left, counting up to `cap`. Throw
  // HistoryStoreError. The defaults erase nothing (test doubles).
  struct EraseSlice {
    uint64_t erased = 0;  // messages whose data was removed
    bool more = false;    // the limit was hit: call again
  };
  virtual EraseSlice eraseSender(std::string_view /*sender*/, size_t /*limit*/) { return {}; }
  virtual uint64_t countSender(std::string_view /*sender*/, uint64_t /*cap*/) { return 0; }

  // The conversation index (WriteSet::conversations): one page of `query.user`'s conversations,
  // most recent first, a range read. Throws HistoryStoreError. The default keeps none.
  virtual ConversationPage loadConversations(const ConversationQuery& /*query*/) { return {}; }
  // The outbox (WriteSet::outbox): up to `limit` entries not yet delivered, in key order strictly
  // after `after` (nullopt: from the first). Throws HistoryStoreError. The default keeps none.
  virtual std::vector<OutboxEntry> loadOutbox(const std::optional<OutboxEntry>& /*after*/, size_t /*limit*/) {
    return {};
  }

  // For the hub's metrics: commits sent again with upserts (PostgreSQL; 0 elsewhere).
  virtual uint64_t upsertRetries() const { return 0; }
};

}  // namespace webim::hub
