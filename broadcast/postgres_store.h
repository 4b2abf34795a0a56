// PostgreSQL adapter for HistoryStore (libpq), for deployments where the history must live on
// shared, replicated storage. Tables (created if absent, in the first schema of the connection's
// search_path; put `options='-c search_path=NAME'` in the DSN to pick one):
//   webim_channel (channel text PK, epoch int8, last_seq int8)                      -- meta
//   webim_message (channel text, seq int8, epoch int8, sender bytea, ts_ms int8, data bytea),
//                 PRIMARY KEY (channel, seq): a history page is one index range scan
//   webim_dedup   (sender bytea, cid bytea, channel text, epoch int8, seq int8, ts_ms int8),
//                 PRIMARY KEY (sender, cid), index on ts_ms (for retention)
// 64-bit epochs are stored bit for bit in int8 (they may read as negative in psql).
//
// commit(): one transaction, sent in libpq pipeline mode (BEGIN, one multi-row INSERT .. SELECT
// FROM unnest($arrays) per table with binary array parameters, COMMIT: one round trip). Durable
// when it returns with synchronous_commit on (the session is set to `on` unless the server already
// asks for more, e.g. remote_apply); commit(batch, false) uses SET LOCAL synchronous_commit = off.
// Records are upserted (a rewrite of the same key replaces it, as RocksDB's Put does).
//
// Lost connection: the failing call throws HistoryStoreError (reads; a read is retried once on a
// fresh connection first) or returns the error (commit); the next call reconnects. A commit whose
// connection broke after it was sent has an unknown outcome. The hub then answers `unavailable`
// and rolls its sequencer back, so before anything else the store undoes that batch on the next
// call (deletes its messages and dedup records, puts each meta back to its previous seq; a no-op
// when the batch never landed). Until that succeeded every call fails.
//
// Reconnects are rate-limited: after a failed connect, calls fail fast for a backoff (100 ms
// doubling to 5 s) instead of blocking the hub's loop on every call. Put connect_timeout=2 in
// the DSN of a TCP server: libpq waits forever for an unreachable host by default.
//
// Dedup filter: the sequencer looks up (from, cid) once per publish, and on PostgreSQL that is a
// round trip per message. The store keeps a Bloom filter of the dedup keys younger than the TTL
// (loaded at open, then fed by every commit, in two generations that rotate every TTL), so a new
// cid is answered "not found" without a query; only filter hits (~1% false positives) go to the
// server. This relies on the hub being the single writer of its channels' records, the same
// assumption its in-memory sequence numbers already make.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "broadcast/history_store.h"

namespace webim::hub {

struct PostgresStoreOptions {
  std::string dsn;                        // libpq connection string ("host=... dbname=...")
  int64_t dedupTtlMs = 86400LL * 1000;    // the hub's dedup TTL (sizes the filter's generations)
};

class PostgresHistoryStore final : public HistoryStore {
 public:
  // Connects, creates the schema if absent and loads the dedup filter. Throws HistoryStoreError
  // with libpq's message when the server cannot be reached or the schema cannot be created.
  explicit PostgresHistoryStore(PostgresStoreOptions options);
  ~PostgresHistoryStore() override;

  std::optional<ChannelMeta> loadMeta(std::string_view channel) override;
  std::string epochSeed() override;
  std::vector<std::optional<ChannelMeta>> loadMetas(const std::vector<std::string>& channels) override;
  // Statements sent to the server since the store was opened (tests: batched loads are one each).
  uint64_t roundTrips() const noexcept;
  std::optional<DedupRecord> loadDedup(std::string_view from, std::string_view cid) override;
  std::string commit(const WriteSet& batch, bool sync) override;
  HistoryPage readPage(std::string_view channel, const HistoryQuery& query) override;
  uint64_t countChannels() override;
  std::vector<std::string> listChannels(std::string_view after, size_t limit) override;
  TrimResult trimHistory(std::string_view channel, const TrimRequest& request) override;
  std::vector<Revocation> loadRevocations(int64_t sinceMs) override;
  void trimRevocations(int64_t beforeMs) override;

  // For tests and stats: dedup lookups answered by the filter without a query / sent to the server.
  uint64_t dedupFilterSkips() const;
  uint64_t dedupQueries() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace webim::hub
