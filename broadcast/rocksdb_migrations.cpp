#include "broadcast/rocksdb_migrations.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include <memory>

#include "broadcast/rocksdb_open.h"
#include "broadcast/rocksdb_records.h"
#include "broadcast/store_migration.h"

namespace webim::hub::rocks {

namespace {

constexpr size_t kRewriteBatch = 1024;  // records per batch: bounded memory on a large store

void write(rocksdb::DB& db, rocksdb::WriteBatch& wb, bool sync) {
  rocksdb::WriteOptions options;
  options.sync = sync;
  rocksdb::Status s = db.Write(options, &wb);
  if (!s.ok()) throw HistoryStoreError("store migration: " + s.ToString());
  wb.Clear();
}

// An iterator over the message records ('m' keys) only. The bounds are static: RocksDB keeps
// pointers to them for the iterator's life.
std::unique_ptr<rocksdb::Iterator> messageIterator(rocksdb::DB& db) {
  static const std::string lower(1, kMessagePrefix), upper(1, kMessagePrefix + 1);
  static const rocksdb::Slice lowerSlice(lower), upperSlice(upper);
  rocksdb::ReadOptions options;
  options.iterate_lower_bound = &lowerSlice;
  options.iterate_upper_bound = &upperSlice;
  return std::unique_ptr<rocksdb::Iterator>(db.NewIterator(options));
}

// Step 1: format-0 message records (serialized wire Deliveries) become v1 records. Records already
// in v1 are left, so a rerun after a crash only finishes the rest.
void rewriteLegacyMessages(rocksdb::DB& db) {
  std::unique_ptr<rocksdb::Iterator> it = messageIterator(db);
  rocksdb::WriteBatch wb;
  uint64_t rewritten = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view value(it->value().data(), it->value().size());
    if (!isLegacyMessage(value)) continue;
    std::optional<StoredMessage> m = decodeLegacyDelivery(value);
    if (!m) throw HistoryStoreError("store migration: corrupt format-0 message record");
    wb.Put(it->key(), encodeMessage(*m));
    if (++rewritten % kRewriteBatch == 0) write(db, wb, false);
  }
  if (!it->status().ok()) throw HistoryStoreError("store migration: " + it->status().ToString());
  if (wb.Count() > 0) write(db, wb, false);
  if (rewritten > 0) spdlog::info("store migration: {} message records rewritten", rewritten);
}

// Step 2: the per-sender index (erase_user) for the messages already stored; v2 message records
// (edit and delete) may occur from now on. Puts only: a rerun after a crash writes the same keys.
void buildSenderIndex(rocksdb::DB& db) {
  std::unique_ptr<rocksdb::Iterator> it = messageIterator(db);
  rocksdb::WriteBatch wb;
  uint64_t indexed = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key(it->key().data(), it->key().size());
    const size_t nul = key.find('\0');
    if (nul == std::string_view::npos) throw HistoryStoreError("store migration: corrupt message key");
    const std::string_view channel = key.substr(1, nul - 1);
    const StoredMessage m = decodeMessage(channel, std::string_view(it->value().data(), it->value().size()));
    if (m.deleted) continue;
    wb.Put(senderKey(m.from, channel, m.seq), rocksdb::Slice());
    if (++indexed % kRewriteBatch == 0) write(db, wb, false);
  }
  if (!it->status().ok()) throw HistoryStoreError("store migration: " + it->status().ToString());
  if (wb.Count() > 0) write(db, wb, false);
  if (indexed > 0) spdlog::info("store migration: {} messages in the per-sender index", indexed);
}

// Step 3: the unread index ('x' keys) for the edit and delete entries and deleted messages already
// stored (written with them from now on). Puts only: a rerun after a crash writes the same keys.
void buildUncountedIndex(rocksdb::DB& db) {
  std::unique_ptr<rocksdb::Iterator> it = messageIterator(db);
  rocksdb::WriteBatch wb;
  uint64_t indexed = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view value(it->value().data(), it->value().size());
    if (value.empty() || value[0] != kMessageRecordV2) continue;  // v1: a plain message
    const std::string_view key(it->key().data(), it->key().size());
    const size_t nul = key.find('\0');
    if (nul == std::string_view::npos) throw HistoryStoreError("store migration: corrupt message key");
    const std::string_view channel = key.substr(1, nul - 1);
    const StoredMessage m = decodeMessage(channel, value);
    if (m.editOf == 0 && m.deleteOf == 0 && !m.deleted) continue;
    wb.Put(uncountedKey(channel, m.seq), rocksdb::Slice());
    if (++indexed % kRewriteBatch == 0) write(db, wb, false);
  }
  if (!it->status().ok()) throw HistoryStoreError("store migration: " + it->status().ToString());
  if (wb.Count() > 0) write(db, wb, false);
  if (indexed > 0) spdlog::info("store migration: {} entries and deleted messages in the unread index", indexed);
}

}  // namespace

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> list = {
      {1, "messages in the store's own record layout", rewriteLegacyMessages},
      // v1 records stay readable as they are; older binaries (which know format 1, not the v2
      // message records) no longer open the store.
      {2, "edit and delete entries (v2 message records), the per-sender index", buildSenderIndex},
      {3, "the unread index: edit and delete entries and deleted messages", buildUncountedIndex},
  };
  return list;
}

uint32_t latestFormat() { return static_cast<uint32_t>(migrations().size()); }

void migrate(rocksdb::DB& db, const std::string& path) {
  const std::optional<std::string> stored = getValue(db, std::string(kFormatVersionKey));
  const uint32_t version = stored ? decodeFormatVersion(*stored) : 0;
  for (const Migration* step : pendingMigrations(migrations(), version, "store " + path)) {
    spdlog::info("store {}: migrating to format {} ({})", path, step->version, step->what);
    step->apply(db);
    // The step's batches were not synced: sync every live WAL before the version says "done".
    if (rocksdb::Status s = db.SyncWAL(); !s.ok()) throw HistoryStoreError("store migration: " + s.ToString());
    rocksdb::WriteBatch wb;
    wb.Put(std::string(kFormatVersionKey), encodeFormatVersion(step->version));
    write(db, wb, true);
  }
}

}  // namespace webim::hub::rocks
