// The RocksDB store's read cursors (read_cursors.h; keys and records: rocksdb_records.h).
#include <rocksdb/db.h>

#include "broadcast/rocksdb_records.h"
#include "broadcast/rocksdb_store.h"

namespace webim::hub {

std::vector<uint64_t> RocksDbHistoryStore::loadCursors(const std::vector<ReadCursor>& keys) {
  std::vector<uint64_t> out(keys.size(), 0);
  if (keys.empty()) return out;
  std::vector<std::string> names;
  names.reserve(keys.size());
  for (const ReadCursor& k : keys) names.push_back(rocks::cursorKey(k.channel, k.user));
  std::vector<rocksdb::Slice> slices(names.begin(), names.end());
  std::vector<std::string> values;
  std::vector<rocksdb::Status> statuses = db().MultiGet(rocksdb::ReadOptions(), slices, &values);
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) throw HistoryStoreError("reading read cursors: " + statuses[i].ToString());
    out[i] = rocks::decodeCursor(values[i]);
  }
  return out;
}

}  // namespace webim::hub
