// The RocksDB store's unread index (HistoryStore::countUncounted): one empty 'x' channel '\0' seq
// key per seq unread does not count (an edit or delete entry, a deleted or erased message;
// rocksdb_records.h). The ranges are walked in key order on one iterator: a range is one step per
// such key in it, and a Seek only when the iterator is not already at or just before the range's
// start (a channel with no such key, or none left below its range, costs no Seek; a range that
// overlaps the previous one, two users' cursors of one channel, seeks back). So the cost grows with
// the edits and deletes, never with the channel's messages.
#include <rocksdb/db.h>

#include <algorithm>
#include <memory>
#include <numeric>
#include <tuple>

#include "broadcast/rocksdb_records.h"
#include "broadcast/rocksdb_store.h"

namespace webim::hub {

namespace {

constexpr int kStepsBeforeSeek = 8;  // Next() is far cheaper than a Seek in the memtable's skip list

}  // namespace

std::vector<uint64_t> RocksDbHistoryStore::countUncounted(const std::vector<SeqRange>& ranges) {
  std::vector<uint64_t> out(ranges.size(), 0);
  if (ranges.empty()) return out;
  std::vector<size_t> order(ranges.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::tie(ranges[a].channel, ranges[a].after) < std::tie(ranges[b].channel, ranges[b].after);
  });
  std::unique_ptr<rocksdb::Iterator> it(db().NewIterator(rocksdb::ReadOptions()));
  bool positioned = false;  // once sought, an invalid iterator means no key at or after any later start
  std::string previousEnd;  // the iterator stands at the first key at or after it
  for (size_t i : order) {
    const SeqRange& r = ranges[i];
    if (r.upTo <= r.after || r.upTo == UINT64_MAX) continue;
    const std::string start = rocks::uncountedKey(r.channel, r.after + 1);
    const std::string end = rocks::uncountedKey(r.channel, r.upTo + 1);
    if (positioned && start < previousEnd) positioned = false;  // overlaps the previous range: seek back
    if (positioned && !it->Valid()) break;
    int steps = positioned ? kStepsBeforeSeek : 0;
    while (steps > 0 && it->key().compare(start) < 0) {
      it->Next();
      --steps;
      if (!it->Valid()) break;
    }
    if (!positioned || (it->Valid() && it->key().compare(start) < 0)) it->Seek(start);
    positioned = true;
    for (; it->Valid() && it->key().compare(end) < 0; it->Next()) ++out[i];
    previousEnd = end;
    if (!it->status().ok()) throw HistoryStoreError("counting edit and delete entries: " + it->status().ToString());
  }
  if (!it->status().ok()) throw HistoryStoreError("counting edit and delete entries: " + it->status().ToString());
  return out;
}

}  // namespace webim::hub
