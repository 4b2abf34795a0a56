#include "broadcast/rocksdb_store.h"

#include <openssl/rand.h>
#include <rocksdb/db.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "broadcast/rocksdb_last_seen.h"
#include "broadcast/rocksdb_migrations.h"
#include "broadcast/rocksdb_open.h"
#include "broadcast/conversation_records.h"
#include "broadcast/rocksdb_records.h"

namespace webim::hub {

using namespace rocks;

namespace {

constexpr size_t kEpochSeedBytes = 32;
constexpr std::chrono::milliseconds kMinBackoff{50};
constexpr std::chrono::milliseconds kMaxBackoff{2000};

std::string_view view(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

// RocksDB's per-thread perf counters are on by default: one thread-local lookup per key comparison,
// 12 % of the hub's instructions per publish. Off on each thread that uses the store (the hub's
// loop, which opens it, and its sync thread).
void countNothing() { rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable); }

// An iterator over [lower, upper); the bounds live as long as the iterator.
class RangeIterator {
 public:
  RangeIterator(rocksdb::DB& db, std::string lower, std::string upper)
      : lower_(std::move(lower)), upper_(std::move(upper)), lowerSlice_(lower_), upperSlice_(upper_) {
    rocksdb::ReadOptions options;
    options.iterate_lower_bound = &lowerSlice_;
    options.iterate_upper_bound = &upperSlice_;
    it_.reset(db.NewIterator(options));
  }
  RangeIterator(const RangeIterator&) = delete;  // the options point into this object
  RangeIterator& operator=(const RangeIterator&) = delete;
  rocksdb::Iterator* operator->() { return it_.get(); }
  // Throws HistoryStoreError when the iteration stopped on an error rather than at the end.
  void check() {
    if (!it_->status().ok()) throw HistoryStoreError(it_->status().ToString());
  }

 private:
  std::string lower_, upper_;
  rocksdb::Slice lowerSlice_, upperSlice_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

RangeIterator prefixIterator(rocksdb::DB& db, char prefix) {
  return RangeIterator(db, std::string(1, prefix), std::string(1, static_cast<char>(prefix + 1)));
}

}  // namespace

RocksDbHistoryStore::RocksDbHistoryStore(const std::string& path, const rocks::IoOptions& io) : path_(path), io_(io) {
  countNothing();
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) throw HistoryStoreError("cannot create " + path + ": " + ec.message());
  db_ = openDb(path, io_);
  migrate(*db_, path);
}

rocksdb::DB& RocksDbHistoryStore::db() {
  if (db_ && !undoVisible_) return *db_;
  // Reads retry the recovery too: while every publish fails at its first read, no write would
  // ever come to do it.
  recoverNow();
  return *db_;
}

void RocksDbHistoryStore::recoverNow() {
  const auto now = std::chrono::steady_clock::now();
  if (now < nextAttempt_) {
    throw HistoryStoreError(
        "store unavailable after an error (" + lastError_ + "); next recovery attempt in " +
        std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(nextAttempt_ - now).count()) + " ms");
  }
  if (std::string error = recover(); !error.empty()) {
    backoff_ = std::min(kMaxBackoff, std::max(kMinBackoff, backoff_ * 2));
    nextAttempt_ = std::chrono::steady_clock::now() + backoff_;
    throw HistoryStoreError("store recovery failed: " + error);
  }
}

void RocksDbHistoryStore::markFailed(std::string error) {
  lastError_ = std::move(error);
  if (!failed_) backoff_ = kMinBackoff;
  failed_ = true;
  nextAttempt_ = std::chrono::steady_clock::now() + backoff_;
}

RocksDbHistoryStore::~RocksDbHistoryStore() {
  if (db_) db_->Close().PermitUncheckedError();
}

std::optional<ChannelMeta> RocksDbHistoryStore::loadMeta(std::string_view channel) {
  auto value = getValue(db(), metaKey(channel));
  if (!value) return std::nullopt;
  return decodeMeta(*value);
}

std::string RocksDbHistoryStore::epochSeed() {
  if (auto value = getValue(db(), std::string(kEpochSeedKey))) return *value;
  std::string seed(kEpochSeedBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(seed.data()), static_cast<int>(seed.size())) != 1) {
    throw HistoryStoreError("no randomness for the epoch seed");
  }
  rocksdb::WriteOptions options;
  options.sync = true;
  rocksdb::Status s = db().Put(options, std::string(kEpochSeedKey), seed);
  if (!s.ok()) throw HistoryStoreError("storing the epoch seed: " + s.ToString());
  return seed;
}

std::optional<std::string> RocksDbHistoryStore::loadValue(std::string_view name) {
  return getValue(db(), std::string(kValuePrefix) + std::string(name));
}

void RocksDbHistoryStore::storeValue(std::string_view name, std::string_view value) {
  rocksdb::WriteOptions options;
  options.sync = true;
  rocksdb::Status s = db().Put(options, std::string(kValuePrefix) + std::string(name), rocksdb::Slice(value.data(), value.size()));
  if (!s.ok()) throw HistoryStoreError("storing " + std::string(name) + ": " + s.ToString());
}

std::vector<std::optional<ChannelMeta>> RocksDbHistoryStore::loadMetas(const std::vector<std::string>& channels) {
  std::vector<std::string> keys;
  keys.reserve(channels.size());
  for (const std::string& channel : channels) keys.push_back(metaKey(channel));
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<std::string> values;
  std::vector<rocksdb::Status> statuses = db().MultiGet(rocksdb::ReadOptions(), slices, &values);
  std::vector<std::optional<ChannelMeta>> out(channels.size());
  for (size_t i = 0; i < channels.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) throw HistoryStoreError(statuses[i].ToString());
    out[i] = decodeMeta(values[i]);
  }
  return out;
}

std::optional<DedupRecord> RocksDbHistoryStore::loadDedup(std::string_view from, std::string_view cid) {
  auto value = getValue(db(), dedupKey(from, cid));
  if (!value) return std::nullopt;
  return decodeDedup(*value);
}

// One Write with the WAL synced in it: RocksDB applies the batch to the memtable only once the sync
// returned, so nothing of a batch whose sync failed is ever readable.
void RocksDbHistoryStore::commit(const WriteSet& batch, bool sync) { writeBatch(batch, sync); }

void RocksDbHistoryStore::write(const WriteSet& batch) { writeBatch(batch, false); }

void RocksDbHistoryStore::writeBatch(const WriteSet& batch, bool sync) {
  if (failed_) recoverNow();  // or throws
  rocksdb::DB& d = *db_;
  rocksdb::WriteBatch wb;
  for (const StoredMessage& m : batch.messages) {
    wb.Put(messageKey(m.channel, m.seq), encodeMessage(m));
    if (m.noticeSeq != 0) continue;  // a dm notice: no user content, no index (the dm message has them)
    wb.Put(senderKey(m.from, m.channel, m.seq), rocksdb::Slice());  // the per-sender index (erase_user)
    if (m.editOf != 0) wb.Put(editKey(m.channel, m.editOf, m.seq), rocksdb::Slice());  // a delete finds its edits
    if (m.editOf != 0 || m.deleteOf != 0) wb.Put(uncountedKey(m.channel, m.seq), rocksdb::Slice());  // not unread
  }
  for (const MetaEntry& e : batch.metas) wb.Put(metaKey(e.channel), encodeMeta(e.meta));
  for (const DedupEntry& e : batch.dedups) wb.Put(dedupKey(e.from, e.cid), encodeDedup(e.record));
  for (const Revocation& r : batch.revocations) wb.Put(revocationKey(r.user), encodeRevocation(r.notBeforeMs));
  for (const ReadCursor& c : batch.cursors) wb.Put(cursorKey(c.channel, c.user), encodeCursor(c.seq));
  putLastSeen(wb, batch.lastSeen);
  putConversations(wb, batch);  // the conversation index and the outbox: rocksdb_conversations.cpp
  if (!batch.redactions.empty()) addRedactions(wb, batch);  // rocksdb_erase.cpp
  rocksdb::WriteOptions options;
  options.sync = sync;
  rocksdb::Status s = d.Write(options, &wb);
  if (s.ok()) return;
  rememberUndo(batch);
  markFailed(s.ToString());
  throw HistoryStoreError(lastError_);
}

// On the hub's sync thread: touches nothing but the open DB (never reopened meanwhile).
void RocksDbHistoryStore::sync() {
  static thread_local const bool quiet = (countNothing(), true);
  (void)quiet;
  rocksdb::Status s = db_ ? db_->SyncWAL() : rocksdb::Status::IOError("store closed");
  if (!s.ok()) throw HistoryStoreError("WAL sync: " + s.ToString());
}

void RocksDbHistoryStore::abandon(const WriteSet& batch) {
  rememberUndo(batch);
  undoVisible_ = true;  // in the memtable: no read until it is undone
  markFailed("a WAL sync failed");
}

void RocksDbHistoryStore::rememberUndo(const WriteSet& batch) {
  if (!undo_) undo_ = std::make_unique<Undo>();
  std::map<std::string, std::pair<uint64_t, uint64_t>> first;  // channel -> (epoch, first seq)
  for (const StoredMessage& m : batch.messages) {
    undo_->deletes.push_back(messageKey(m.channel, m.seq));
    undo_->deletes.push_back(senderKey(m.from, m.channel, m.seq));
    if (m.editOf != 0) undo_->deletes.push_back(editKey(m.channel, m.editOf, m.seq));
    if (m.editOf != 0 || m.deleteOf != 0) undo_->deletes.push_back(uncountedKey(m.channel, m.seq));
    auto [it, added] = first.emplace(m.channel, std::make_pair(m.epoch, m.seq));
    if (!added) it->second.second = std::min(it->second.second, m.seq);
  }
  for (const DedupEntry& d : batch.dedups) undo_->deletes.push_back(dedupKey(d.from, d.cid));
  for (const OutboxEntry& e : batch.outbox) undo_->deletes.push_back(conv::outboxKey(e));  // its dm message is gone
  // The sequencer rolled these channels back to first seq - 1 (their last durable seq). A meta
  // written without messages (a channel created for a subscriber) is left: the sequencer forgot
  // that channel and reads it from the store again.
  for (const auto& [channel, v] : first) {
    auto [it, added] = undo_->metas.emplace(channel, std::make_pair(v.first, v.second - 1));
    if (!added) it->second.second = std::min(it->second.second, v.second - 1);
  }
  // A cursor the batch moved onto its own messages (a publish marks its sender's channel read) would
  // point past the restored seq, at whatever message takes that seq next: it goes back to the last
  // durable seq (never lower than it was: before the batch it was at most that). Reads are clamped
  // to durable seqs and stay.
  for (const ReadCursor& c : batch.cursors) {
    auto it = first.find(c.channel);
    if (it == first.end() || c.seq < it->second.second) continue;
    auto [at, added] = undo_->cursors.emplace(cursorKey(c.channel, c.user), it->second.second - 1);
    if (!added) at->second = std::min(at->second, it->second.second - 1);
  }
}

std::string RocksDbHistoryStore::recover() {
  ++recoveryAttempts_;
  rocksdb::Status s = db_ ? db_->Resume() : rocksdb::Status::NotSupported("closed");
  // An I/O error (no space yet) is retried with Resume(); anything else, or a Resume() that keeps
  // failing, gets a reopen.
  if (!s.ok() && (s.IsIOError() || s.IsBusy()) && ++failedResumes_ % 5 != 0) {
    lastError_ = s.ToString();
    return lastError_;
  }
  if (!s.ok()) {
    // Resume() cannot clear every error (e.g. a fatal one): reopen the DB, which replays the WAL.
    spdlog::warn("store {}: resume failed ({}), reopening", path_, s.ToString());
    if (db_) {
      db_->Close().PermitUncheckedError();
      db_.reset();
    }
    try {
      db_ = openDb(path_, io_);
    } catch (const HistoryStoreError& e) {
      lastError_ = e.what();
      return lastError_;
    }
  }
  if (undo_) {  // the records of failed batches, if they landed, before anything is served again
    rocksdb::WriteBatch wb;
    for (const std::string& key : undo_->deletes) wb.Delete(key);
    for (const auto& [channel, meta] : undo_->metas)
      wb.Put(metaKey(channel), encodeMeta(ChannelMeta{meta.first, meta.second}));
    for (const auto& [key, seq] : undo_->cursors) wb.Put(key, encodeCursor(seq));
    rocksdb::WriteOptions options;
    options.sync = true;
    if (rocksdb::Status u = db_->Write(options, &wb); !u.ok()) {
      lastError_ = "undoing failed batches: " + u.ToString();
      return lastError_;
    }
    undo_.reset();
  }
  ++recoveries_;
  failedResumes_ = 0;
  failed_ = false;
  undoVisible_ = false;
  backoff_ = std::chrono::milliseconds{0};
  spdlog::info("store {} writable again after: {}", path_, lastError_);
  return {};
}

HistoryPage RocksDbHistoryStore::readPage(std::string_view channel, const HistoryQuery& query) {
  HistoryPage page;
  if (auto meta = loadMeta(channel)) {
    page.epoch = meta->epoch;
    page.lastSeq = meta->lastSeq;
  } else {
    return page;
  }
  const bool backward = query.before != 0;
  if (!backward && query.after == UINT64_MAX) return page;
  RangeIterator it(db(), channelPrefix(channel), channelEnd(channel));
  size_t bytes = 0;
  // Adds the iterator's message to the page; false (page.more) when it does not fit.
  auto take = [&] {
    StoredMessage m = decodeMessage(channel, view(it->value()));
    const size_t size = pageBytes(m);
    // At least one message per page, so paging always makes progress.
    if (page.msgs.size() >= query.limit || (!page.msgs.empty() && bytes + size > query.maxBytes)) {
      page.more = true;
      return false;
    }
    bytes += size;
    page.msgs.push_back(std::move(m));
    return true;
  };
  if (backward) {
    for (it->SeekForPrev(messageKey(channel, query.before - 1)); it->Valid() && take(); it->Prev()) {
    }
    std::reverse(page.msgs.begin(), page.msgs.end());
  } else {
    for (it->Seek(messageKey(channel, query.after + 1)); it->Valid() && take(); it->Next()) {
    }
  }
  it.check();
  return page;
}

uint64_t RocksDbHistoryStore::countChannels() {
  RangeIterator it = prefixIterator(db(), kMetaPrefix);
  uint64_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
  it.check();
  return n;
}

namespace {
// Calls f(user, notBeforeMs) for every revocation record.
template <class F>
void forEachRevocation(rocksdb::DB& db, F&& f) {
  RangeIterator it = prefixIterator(db, kRevocationPrefix);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    f(view(it->key()).substr(1), decodeRevocation(view(it->value())));
  }
  it.check();
}
}  // namespace

std::vector<Revocation> RocksDbHistoryStore::loadRevocations(int64_t sinceMs) {
  std::vector<Revocation> out;
  forEachRevocation(db(), [&](std::string_view user, int64_t notBeforeMs) {
    if (notBeforeMs >= sinceMs) out.push_back({std::string(user), notBeforeMs});
  });
  return out;
}

void RocksDbHistoryStore::trimRevocations(int64_t beforeMs) {
  rocksdb::WriteBatch wb;
  forEachRevocation(db(), [&](std::string_view user, int64_t notBeforeMs) {
    if (notBeforeMs < beforeMs) wb.Delete(revocationKey(user));
  });
  if (wb.Count() == 0) return;
  rocksdb::Status s = db().Write(rocksdb::WriteOptions(), &wb);
  if (!s.ok()) throw HistoryStoreError(s.ToString());
}

std::vector<std::string> RocksDbHistoryStore::listChannels(std::string_view after, size_t limit) {
  std::vector<std::string> out;
  RangeIterator it = prefixIterator(db(), kMetaPrefix);
  const std::string start = metaKey(after);
  for (it->Seek(start); it->Valid() && out.size() < limit; it->Next()) {
    if (it->key() == rocksdb::Slice(start)) continue;  // strictly after
    out.emplace_back(view(it->key()).substr(1));
  }
  it.check();
  return out;
}

TrimResult RocksDbHistoryStore::trimHistory(std::string_view channel, const TrimRequest& request) {
  TrimResult result;
  auto meta = loadMeta(channel);
  if (!meta) return result;
  // Everything at or below `cut` goes: the count limit first (one range delete, whatever its size).
  uint64_t cut = 0;
  const uint64_t last = std::min(meta->lastSeq, request.durableLast);
  if (request.keepLast != UINT64_MAX && last > request.keepLast) cut = last - request.keepLast;

  RangeIterator it(db(), channelPrefix(channel), channelEnd(channel));
  it->SeekToFirst();
  if (!it->Valid()) {
    it.check();
    return result;  // no messages at all
  }
  const uint64_t oldest = messageKeySeq(view(it->key()));
  if (cut >= oldest) result.deleted = cut - oldest + 1;
  // Then the age limit: the oldest messages above `cut` older than minTsMs, scanned one by one.
  if (request.minTsMs != INT64_MIN) {
    it->Seek(messageKey(channel, std::max(cut + 1, oldest)));
    uint64_t scanned = 0;
    for (; it->Valid(); it->Next()) {
      if (scanned++ >= request.maxDeletes) {
        result.more = true;
        break;
      }
      if (decodeMessageTs(view(it->value())) >= request.minTsMs) break;
      cut = std::max(cut, messageKeySeq(view(it->key())));
      ++result.deleted;
    }
    it.check();
  }
  cut = std::min(cut, request.durableLast);  // never into a batch whose sync is pending
  if (cut < oldest) return result;
  rocksdb::WriteBatch wb;
  wb.DeleteRange(channelPrefix(channel), messageKey(channel, cut + 1));
  wb.DeleteRange(uncountedKey(channel, 0), uncountedKey(channel, cut + 1));  // their unread index keys
  rocksdb::WriteOptions wo;  // not synced: a crash may undo a trim, the next pass redoes it
  rocksdb::Status s = db().Write(wo, &wb);
  if (!s.ok()) throw HistoryStoreError(s.ToString());
  return result;
}

}  // namespace webim::hub
