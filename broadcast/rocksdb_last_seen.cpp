// Presence in the RocksDB store: last seen written with the batch (one Put per user; a later one in
// the same batch wins, as in any WriteBatch) and read for an `online` query with one MultiGet.
#include "broadcast/rocksdb_last_seen.h"

#include <rocksdb/db.h>

#include "broadcast/presence_records.h"
#include "broadcast/rocksdb_store.h"

namespace webim::hub {

void putLastSeen(rocksdb::WriteBatch& batch, const std::vector<PresenceLastSeen>& lastSeen) {
  for (const PresenceLastSeen& s : lastSeen) batch.Put(lastSeenKey(s.user), encodeLastSeen(s.seenMs));
}

std::vector<int64_t> RocksDbHistoryStore::loadLastSeen(const std::vector<std::string>& users) {
  std::vector<int64_t> out(users.size(), 0);
  if (users.empty()) return out;
  std::vector<std::string> keys;
  keys.reserve(users.size());
  for (const std::string& user : users) keys.push_back(lastSeenKey(user));
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<std::string> values;
  std::vector<rocksdb::Status> statuses = db().MultiGet(rocksdb::ReadOptions(), slices, &values);
  for (size_t i = 0; i < users.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) throw HistoryStoreError(statuses[i].ToString());
    out[i] = decodeLastSeen(values[i]);
  }
  return out;
}

}  // namespace webim::hub
