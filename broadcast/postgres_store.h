// PostgreSQL adapter for HistoryStore (libpq), for deployments where the history must live on
// shared, replicated storage. The tables (postgres_sql.h) are created and migrated at connect
// (postgres_schema.h) in the first schema of the connection's search_path; put
// `options='-c search_path=NAME'` in the DSN to pick one.
//
// commit(): one transaction, sent in libpq pipeline mode (BEGIN, one multi-row INSERT .. SELECT
// FROM unnest($arrays) per table with binary array parameters (postgres_batch.h), COMMIT: one
// round trip). Durable when it returns with synchronous_commit on (the session is set to `on`
// unless the server already asks for more, e.g. remote_apply); commit(batch, false) uses
// SET LOCAL synchronous_commit = off. Records are upserted (a rewrite of the same key replaces
// it, as RocksDB's Put does), in two steps: messages and dedup records go in as plain INSERTs
// (no speculative insertion: ~0.7x the server CPU of a commit of 256-1,024 messages upserted,
// docs/testing.md "PostgreSQL commit shapes"); a batch that rewrites one of their keys (an
// expired cid reused, a seq written again) fails with unique_violation, is rolled back whole and
// sent again with the upserts (upsertRetries()). Channel metas and revocations are always
// upserted (they are updates).
//
// Pipelined (PostgresStoreOptions::pipelined, hub key pg_pipeline): write() is commit(batch, false): committed and visible, not yet
// flushed; sync() runs on the hub's sync thread over a connection of its own (postgres_sync.h) and
// makes every batch committed before it durable. abandon() adds the batch to the undo run before
// the next call (as for a commit whose connection broke).
//
// Failures, the lost connection, the undo of a batch of unknown outcome and the reconnect backoff:
// postgres_session.h. Put connect_timeout=2 in the DSN of a TCP server: libpq waits forever for an
// unreachable host by default.
//
// Dedup lookups go through a Bloom filter of the keys younger than the TTL (dedup_filter.h), so a
// new cid costs no round trip.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "broadcast/history_store.h"

namespace webim::hub {

namespace pg {
class Session;
class SyncConnection;
}

struct PostgresStoreOptions {
  std::string dsn;                        // libpq connection string ("host=... dbname=...")
  int64_t dedupTtlMs = 86400LL * 1000;    // the hub's dedup TTL (sizes the filter's generations)
  // The pipelined commit (below). Off by default: with the server on the hub's 2-core box it cost
  // two transactions per batch and 0.68-0.72x the throughput (docs/testing.md "Hub throughput").
  bool pipelined = false;
};

class PostgresHistoryStore final : public HistoryStore {
 public:
  // Connects, creates or migrates the schema and loads the dedup filter. Throws HistoryStoreError
  // with libpq's message when the server cannot be reached or the schema cannot be migrated, and
  // when the schema was written by a newer release.
  explicit PostgresHistoryStore(PostgresStoreOptions options);
  ~PostgresHistoryStore() override;

  std::optional<ChannelMeta> loadMeta(std::string_view channel) override;
  std::string epochSeed() override;
  std::optional<std::string> loadValue(std::string_view name) override;
  void storeValue(std::string_view name, std::string_view value) override;
  std::vector<std::optional<ChannelMeta>> loadMetas(const std::vector<std::string>& channels) override;
  // Statements sent to the server since the store was opened (tests: batched loads are one each).
  uint64_t roundTrips() const noexcept;
  std::optional<DedupRecord> loadDedup(std::string_view from, std::string_view cid) override;
  void commit(const WriteSet& batch, bool sync) override;
  bool pipelined() const override { return pipelined_; }
  void write(const WriteSet& batch) override;
  void sync() override;
  void abandon(const WriteSet& batch) override;
  HistoryPage readPage(std::string_view channel, const HistoryQuery& query) override;
  uint64_t countChannels() override;
  std::vector<std::string> listChannels(std::string_view after, size_t limit) override;
  TrimResult trimHistory(std::string_view channel, const TrimRequest& request) override;
  EraseSlice eraseSender(std::string_view sender, size_t limit) override;  // postgres_erase.cpp
  uint64_t countSender(std::string_view sender, uint64_t cap) override;
  std::vector<Revocation> loadRevocations(int64_t sinceMs) override;
  void trimRevocations(int64_t beforeMs) override;
  std::vector<uint64_t> loadCursors(const std::vector<ReadCursor>& keys) override;  // postgres_cursors.cpp
  std::vector<uint64_t> countUncounted(const std::vector<SeqRange>& ranges) override;  // postgres_cursors.cpp
  std::vector<int64_t> loadLastSeen(const std::vector<std::string>& users) override;  // postgres_last_seen.cpp
  ConversationPage loadConversations(const ConversationQuery& query) override;  // postgres_conversations.cpp
  std::vector<OutboxEntry> loadOutbox(const std::optional<OutboxEntry>& after, size_t limit) override;

  // For tests and stats: dedup lookups answered by the filter without a query / sent to the server.
  uint64_t dedupFilterSkips() const;
  uint64_t dedupQueries() const;
  // Commits sent again with the upserts because their plain inserts hit an existing key.
  uint64_t upsertRetries() const override;

 private:
  // The batches of unknown outcome not yet undone (merged: one undo for all of them).
  void rememberUndo(const WriteSet& batch);

  bool pipelined_;
  std::unique_ptr<pg::Session> session_;
  std::unique_ptr<pg::SyncConnection> syncConnection_;  // the sync thread's
  WriteSet undone_;  // what session_->undo undoes
};

}  // namespace webim::hub
