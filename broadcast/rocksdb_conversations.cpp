// The RocksDB store's conversation index (docs/architecture.md "Conversations"; keys and records:
// conversation_records.h). A batch's touches read the entries they move in one MultiGet and put
// the new entry and order key, deleting the old order key, in the batch's WriteBatch.
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <memory>

#include "broadcast/conversation_records.h"
#include "broadcast/rocksdb_store.h"

namespace webim::hub {

void RocksDbHistoryStore::putConversations(rocksdb::WriteBatch& wb, const WriteSet& batch) {
  for (const OutboxEntry& e : batch.outbox) wb.Put(conv::outboxKey(e), conv::encodeOutbox(e));
  for (const OutboxEntry& e : batch.outboxDone) wb.Delete(conv::outboxKey(e));
  if (batch.conversations.empty()) return;
  const std::vector<ConversationTouch> merged = conv::mergeTouches(batch.conversations);
  std::vector<std::string> keys;
  keys.reserve(merged.size());
  for (const ConversationTouch& t : merged) keys.push_back(conv::entryKey(t.user, t.channel));
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<std::string> values;
  std::vector<rocksdb::Status> statuses = db_->MultiGet(rocksdb::ReadOptions(), slices, &values);
  for (size_t i = 0; i < merged.size(); ++i) {
    const ConversationTouch& t = merged[i];
    std::optional<ConversationItem> stored;
    if (statuses[i].ok()) {
      stored = conv::decodeEntry(t.channel, values[i]);
    } else if (!statuses[i].IsNotFound()) {
      throw HistoryStoreError("reading conversations: " + statuses[i].ToString());
    }
    if (!conv::newer(ConversationItem{t.channel, t.tsMs, t.seq}, stored)) continue;
    if (stored) wb.Delete(conv::orderKey(t.user, stored->tsMs, t.channel));
    wb.Put(keys[i], conv::encodeEntry(t.tsMs, t.seq));
    wb.Put(conv::orderKey(t.user, t.tsMs, t.channel), conv::encodeOrder(t.seq));
  }
}

ConversationPage RocksDbHistoryStore::loadConversations(const ConversationQuery& query) {
  const std::string lower = query.hasBefore ? conv::orderKey(query.user, query.beforeTs, query.beforeChannel)
                                            : conv::orderPrefix(query.user);
  const std::string upper = conv::orderEnd(query.user);
  rocksdb::Slice lowerSlice(lower), upperSlice(upper);
  rocksdb::ReadOptions options;
  options.iterate_lower_bound = &lowerSlice;
  options.iterate_upper_bound = &upperSlice;
  std::unique_ptr<rocksdb::Iterator> it(db().NewIterator(options));
  ConversationPage page;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (query.hasBefore && it->key() == rocksdb::Slice(lower)) continue;  // exclusive
    if (page.items.size() == query.limit) {
      page.more = true;
      break;
    }
    page.items.push_back(conv::decodeOrder(it->key().ToStringView(), query.user.size(), it->value().ToStringView()));
  }
  if (!it->status().ok()) throw HistoryStoreError("reading conversations: " + it->status().ToString());
  return page;
}

std::vector<OutboxEntry> RocksDbHistoryStore::loadOutbox(const std::optional<OutboxEntry>& after, size_t limit) {
  const std::string lower = after ? conv::outboxKey(*after) : std::string(1, conv::kOutboxPrefix);
  const std::string upper(1, static_cast<char>(conv::kOutboxPrefix + 1));
  rocksdb::Slice lowerSlice(lower), upperSlice(upper);
  rocksdb::ReadOptions options;
  options.iterate_lower_bound = &lowerSlice;
  options.iterate_upper_bound = &upperSlice;
  std::unique_ptr<rocksdb::Iterator> it(db().NewIterator(options));
  std::vector<OutboxEntry> out;
  for (it->SeekToFirst(); it->Valid() && out.size() < limit; it->Next()) {
    if (after && it->key() == rocksdb::Slice(lower)) continue;
    out.push_back(conv::decodeOutbox(it->key().ToStringView(), it->value().ToStringView()));
  }
  if (!it->status().ok()) throw HistoryStoreError("reading the outbox: " + it->status().ToString());
  return out;
}

}  // namespace webim::hub
