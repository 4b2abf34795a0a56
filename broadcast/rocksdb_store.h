// RocksDB adapter for HistoryStore (the embedded default). One DB, one column family; the keys
// and records are the store's own encoding (rocksdb_records.h), migrated at open to the format
// this binary writes (rocksdb_migrations.h). Opening options: rocksdb_open.h.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

#include "broadcast/history_store.h"
#include "broadcast/rocksdb_open.h"

namespace rocksdb {
class DB;
class WriteBatch;
}

namespace webim::hub {

class RocksDbHistoryStore final : public HistoryStore {
 public:
  // Creates the directory and the DB if missing, then runs the pending format migrations. Throws
  // HistoryStoreError with RocksDB's message when the DB cannot be opened (unwritable directory,
  // locked by another process, corruption), or when it was written by a newer release.
  explicit RocksDbHistoryStore(const std::string& path, const rocks::IoOptions& io = {});
  ~RocksDbHistoryStore() override;  // closes the DB (flushes nothing extra: the WAL is durable)

  std::optional<ChannelMeta> loadMeta(std::string_view channel) override;
  std::string epochSeed() override;
  std::optional<std::string> loadValue(std::string_view name) override;
  void storeValue(std::string_view name, std::string_view value) override;
  std::vector<std::optional<ChannelMeta>> loadMetas(const std::vector<std::string>& channels) override;
  std::optional<DedupRecord> loadDedup(std::string_view from, std::string_view cid) override;
  void commit(const WriteSet& batch, bool sync) override;
  bool pipelined() const override { return true; }
  void write(const WriteSet& batch) override;  // WAL write, not synced
  void sync() override;                        // DB::SyncWAL()
  void abandon(const WriteSet& batch) override;
  HistoryPage readPage(std::string_view channel, const HistoryQuery& query) override;
  uint64_t countChannels() override;
  std::vector<std::string> listChannels(std::string_view after, size_t limit) override;
  TrimResult trimHistory(std::string_view channel, const TrimRequest& request) override;
  EraseSlice eraseSender(std::string_view sender, size_t limit) override;  // rocksdb_erase.cpp
  uint64_t countSender(std::string_view sender, uint64_t cap) override;
  std::vector<Revocation> loadRevocations(int64_t sinceMs) override;
  void trimRevocations(int64_t beforeMs) override;
  std::vector<uint64_t> loadCursors(const std::vector<ReadCursor>& keys) override;  // rocksdb_cursors.cpp
  std::vector<uint64_t> countUncounted(const std::vector<SeqRange>& ranges) override;  // rocksdb_uncounted.cpp
  std::vector<int64_t> loadLastSeen(const std::vector<std::string>& users) override;  // rocksdb_last_seen.cpp
  ConversationPage loadConversations(const ConversationQuery& query) override;  // rocksdb_conversations.cpp
  std::vector<OutboxEntry> loadOutbox(const std::optional<OutboxEntry>& after, size_t limit) override;

  // For tests: recovery attempts made / succeeded since open.
  uint64_t recoveryAttempts() const { return recoveryAttempts_; }
  uint64_t recoveries() const { return recoveries_; }

 private:
  // A failed Write or WAL sync leaves RocksDB stopped (background error, read-only) until
  // DB::Resume(). The next writes try Resume() (then a reopen when Resume cannot), with a backoff
  // of 50 ms doubling to 2 s; until then they fail fast (throw). Once the DB is writable the failed
  // batches' records are undone (deleted, metas put back; synced), in case they reached the WAL
  // after all. Reads go on after a failed Write (RocksDB applies nothing of it), but not after a
  // failed sync: that batch is in the memtable, so reads recover (and undo it) first.
  std::string recover();  // "" when the DB is writable again, else why not
  void recoverNow();      // recover() within the backoff, or throws HistoryStoreError
  void rememberUndo(const WriteSet& batch);
  void markFailed(std::string error);
  void writeBatch(const WriteSet& batch, bool sync);
  void putConversations(rocksdb::WriteBatch& wb, const WriteSet& batch);
  // A delete's redactions (rocksdb_erase.cpp).
  std::optional<std::string> redactedRecord(const WriteSet& batch, const Redaction& r, std::string& from);
  void redactOne(rocksdb::WriteBatch& wb, const WriteSet& batch, const std::string& channel, uint64_t seq);
  void addRedactions(rocksdb::WriteBatch& wb, const WriteSet& batch);
  rocksdb::DB& db();  // the open DB for reads (recovered first when it must be); throws HistoryStoreError

  std::string path_;
  rocks::IoOptions io_;  // every (re)open uses them
  std::unique_ptr<rocksdb::DB> db_;
  bool failed_ = false;       // writes recover first
  bool undoVisible_ = false;  // an abandoned batch is in the memtable: reads recover first too
  std::string lastError_;
  std::chrono::milliseconds backoff_{0};
  std::chrono::steady_clock::time_point nextAttempt_{};
  uint64_t recoveryAttempts_ = 0;
  uint64_t recoveries_ = 0;
  uint64_t failedResumes_ = 0;
  struct Undo {
    std::vector<std::string> deletes;                           // message, sender index and dedup keys
    std::map<std::string, std::pair<uint64_t, uint64_t>> metas;  // channel -> (epoch, restore seq)
    std::map<std::string, uint64_t> cursors;  // cursor key -> at most this (a cursor past the restore seq)
  };
  std::unique_ptr<Undo> undo_;
  // eraseSender: per sender, the index key the next slice starts at (rocksdb_erase.cpp). In memory
  // only: after a restart a job starts over at the first key left (bounded: one per running job).
  std::unordered_map<std::string, std::string> eraseCursors_;
};

}  // namespace webim::hub
