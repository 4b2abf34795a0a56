// The RocksDB store's format migrations (store_migration.h has the shared contract). The format
// version lives under the key "s:format-version" (rocksdb_records.h); a store without it is at
// format 0 (every release before this key, including an empty new store).
//
// RocksDB has no transaction over many batches: a step may write several batches, so every step
// is idempotent (a crash midway reruns it at the next open), and the new version is written with
// a synced write after the step's last batch.
//
//   1  messages in the store's own record layout (rocksdb_records.h) instead of the wire Delivery
//   2  edit and delete: v2 message records may occur (rocksdb_records.h), and the per-sender index
//      ('u' keys) is built for the stored messages
//   3  the unread index ('x' keys: edit and delete entries, deleted messages) for the stored ones
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rocksdb {
class DB;
}

namespace webim::hub::rocks {

struct Migration {
  uint32_t version;  // the format the step produces
  const char* what;  // for the log
  void (*apply)(rocksdb::DB& db);
};

const std::vector<Migration>& migrations();
uint32_t latestFormat();

// Runs the pending steps. Throws HistoryStoreError when the store is newer than this binary or a
// step fails (the store is then left at the last completed step).
void migrate(rocksdb::DB& db, const std::string& path);

}  // namespace webim::hub::rocks
