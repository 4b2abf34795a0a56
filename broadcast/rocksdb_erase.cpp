// Removing messages' data on RocksDB: a delete's redactions (WriteSet::redactions: the message and
// its edits, found through the 'e' keys) and erasing a user (HistoryStore::eraseSender, erase_job.h),
// which walks the per-sender index ('u' from '\0' channel '\0' seq, rocksdb_records.h), rewrites
// each message without its data (flagged deleted, as a delete does) and drops its index key, in one
// unsynced batch per slice.
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <memory>

#include "broadcast/rocksdb_open.h"
#include "broadcast/rocksdb_records.h"
#include "broadcast/rocksdb_store.h"
#include "common/big_endian.h"

namespace webim::hub {

using namespace rocks;

namespace {

// Calls fn(key) for the keys in [lower, upper), in order, until it returns false.
template <class Fn>
void forEachKey(rocksdb::DB& db, const std::string& lower, const std::string& upper, Fn fn) {
  rocksdb::Slice lowerSlice(lower), upperSlice(upper);
  rocksdb::ReadOptions options;
  options.iterate_lower_bound = &lowerSlice;
  options.iterate_upper_bound = &upperSlice;
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(options));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (!fn(std::string_view(it->key().data(), it->key().size()))) break;
  }
  if (!it->status().ok()) throw HistoryStoreError(it->status().ToString());
}

// The same for the index keys of `sender` from `from` on ("" = the first).
template <class Fn>
void forEachSenderKey(rocksdb::DB& db, std::string_view sender, Fn fn, const std::string& from = {}) {
  const std::string prefix = senderPrefix(sender);
  std::string upper = prefix;
  upper.back() = '\1';
  forEachKey(db, std::max(prefix, from), upper, fn);
}

}  // namespace

// A message rewritten without its data, marked deleted: from the batch itself when it wrote the
// message, else from the store (nullopt: gone, e.g. trimmed meanwhile; nothing to redact).
std::optional<std::string> RocksDbHistoryStore::redactedRecord(const WriteSet& batch, const Redaction& r,
                                                               std::string& from) {
  std::optional<StoredMessage> m;
  for (auto it = batch.messages.rbegin(); it != batch.messages.rend() && !m; ++it) {
    if (it->seq == r.seq && it->channel == r.channel) m = *it;
  }
  if (!m) {
    std::optional<std::string> stored = getValue(*db_, messageKey(r.channel, r.seq));
    if (!stored) return std::nullopt;
    m = decodeMessage(r.channel, *stored);
  }
  m->data.clear();
  m->deleted = true;
  from = m->from;
  return encodeMessage(*m);
}

// Rewrites message `seq` without its data (if it is still there) and drops its index key.
void RocksDbHistoryStore::redactOne(rocksdb::WriteBatch& wb, const WriteSet& batch, const std::string& channel,
                                    uint64_t seq) {
  std::string from;
  if (std::optional<std::string> record = redactedRecord(batch, Redaction{channel, seq}, from)) {
    wb.Put(messageKey(channel, seq), *record);
    wb.Delete(senderKey(from, channel, seq));  // a deleted message leaves the index
    wb.Put(uncountedKey(channel, seq), rocksdb::Slice());  // and unread counts
  }
}

// Each redaction of the batch: the message and its edits (those of this batch and the stored ones).
void RocksDbHistoryStore::addRedactions(rocksdb::WriteBatch& wb, const WriteSet& batch) {
  for (const Redaction& r : batch.redactions) {
    redactOne(wb, batch, r.channel, r.seq);
    for (const StoredMessage& m : batch.messages) {
      if (m.editOf == r.seq && m.channel == r.channel) {
        redactOne(wb, batch, m.channel, m.seq);
        wb.Delete(editKey(m.channel, r.seq, m.seq));
      }
    }
    const std::string prefix = editPrefix(r.channel, r.seq);
    std::string upper = prefix;
    upper.push_back('\xff');
    forEachKey(*db_, prefix, upper, [&](std::string_view key) {
      if (key.size() == prefix.size() + 8) redactOne(wb, batch, r.channel, loadBigEndian<uint64_t>(key.data() + prefix.size()));
      wb.Delete(rocksdb::Slice(key.data(), key.size()));
      return true;
    });
  }
}

HistoryStore::EraseSlice RocksDbHistoryStore::eraseSender(std::string_view sender, size_t limit) {
  EraseSlice out;
  rocksdb::DB& d = db();
  rocksdb::WriteBatch wb;
  size_t seen = 0;
  // Where the previous slice of this sender stopped: its keys are deleted, and an iterator started
  // at the prefix would step over all their tombstones again (each slice slower than the last).
  std::string& cursor = eraseCursors_[std::string(sender)];
  const std::string start = cursor;
  forEachSenderKey(d, sender, [&](std::string_view key) {
    if (seen++ == limit) {
      out.more = true;
      cursor.assign(key);
      return false;
    }
    wb.Delete(rocksdb::Slice(key.data(), key.size()));
    std::string channel;
    uint64_t seq = 0;
    if (!parseSenderKey(key, sender.size(), channel, seq)) return true;  // malformed: dropped
    std::optional<std::string> record = getValue(d, messageKey(channel, seq));
    if (!record) return true;  // trimmed by retention meanwhile
    StoredMessage m = decodeMessage(channel, *record);
    if (m.deleted) return true;
    m.data.clear();
    m.deleted = true;
    wb.Put(messageKey(channel, seq), encodeMessage(m));
    wb.Put(uncountedKey(channel, seq), rocksdb::Slice());  // no longer counted as unread
    ++out.erased;
    return true;
  }, start);
  // Done: the next job for this sender starts from the first key (its new messages may sort anywhere).
  if (!out.more) eraseCursors_.erase(std::string(sender));
  if (wb.Count() == 0) return out;
  rocksdb::WriteOptions options;  // not synced: a crash may undo a slice, the job redoes it
  rocksdb::Status s = d.Write(options, &wb);
  if (!s.ok()) throw HistoryStoreError("erase: " + s.ToString());
  return out;
}

uint64_t RocksDbHistoryStore::countSender(std::string_view sender, uint64_t cap) {
  uint64_t n = 0;
  forEachSenderKey(db(), sender, [&](std::string_view) { return ++n < cap; });
  return n;
}

}  // namespace webim::hub
