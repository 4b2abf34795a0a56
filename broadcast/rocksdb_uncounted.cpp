// The RocksDB store's unread index (HistoryStore::countUncounted): one empty 'x' channel '\0' seq
// key per seq unread does not count (an edit or delete entry, a deleted or erased message;
// rocksdb_records.h). A range is one Seek and one step per such key in it, on one iterator for
// all the ranges: the cost grows with the edits and deletes in the unread part, never with the
// channel's messages.
#include <rocksdb/db.h>

#include <memory>

#include "broadcast/rocksdb_records.h"
#include "broadcast/rocksdb_store.h"

namespace webim::hub {

std::vector<uint64_t> RocksDbHistoryStore::countUncounted(const std::vector<SeqRange>& ranges) {
  std::vector<uint64_t> out(ranges.size(), 0);
  if (ranges.empty()) return out;
  std::unique_ptr<rocksdb::Iterator> it(db().NewIterator(rocksdb::ReadOptions()));
  for (size_t i = 0; i < ranges.size(); ++i) {
    const SeqRange& r = ranges[i];
    if (r.upTo <= r.after || r.upTo == UINT64_MAX) continue;
    const std::string end = rocks::uncountedKey(r.channel, r.upTo + 1);
    for (it->Seek(rocks::uncountedKey(r.channel, r.after + 1)); it->Valid() && it->key().compare(end) < 0; it->Next()) {
      ++out[i];
    }
    if (!it->status().ok()) throw HistoryStoreError("counting edit and delete entries: " + it->status().ToString());
  }
  return out;
}

}  // namespace webim::hub
