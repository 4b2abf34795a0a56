#include "broadcast/rocksdb_store.h"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <openssl/rand.h>
#include <rocksdb/write_batch.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <filesystem>

#include "proto/webim.pb.h"

namespace webim::hub {

namespace {

constexpr char kMessagePrefix = 'm';
constexpr char kMetaPrefix = 'c';
constexpr char kDedupPrefix = 'd';
constexpr char kRevocationPrefix = 'r';  // 'r' user -> version, not-before ms (kick revocations)
constexpr std::string_view kEpochSeedKey = "s:epoch-seed";  // the store's epoch seed (HistoryStore::epochSeed)
constexpr size_t kEpochSeedBytes = 32;
// First byte of every meta/dedup value, so the layout can change without guessing.
constexpr char kRecordVersion = 1;
constexpr size_t kMetaSize = 1 + 8 + 8;
constexpr size_t kDedupFixedSize = 1 + 8 + 8 + 8;
constexpr int kBloomBitsPerKey = 10;
constexpr size_t kRecycledWalFiles = 4;  // point lookups (meta, dedup) mostly miss on new cids
constexpr std::chrono::milliseconds kMinBackoff{50};
constexpr std::chrono::milliseconds kMaxBackoff{2000};

// RocksDB's info log goes to the hub's log instead of DATA/LOG: a LOG file on the full disk would
// fail with the store, and Debian's librocksdb (built with assertions) aborts on the next write
// to a log file that failed once.
class SpdlogLogger final : public rocksdb::Logger {
 public:
  SpdlogLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override { Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap); }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char line[1024];
    std::vsnprintf(line, sizeof line, format, ap);
    if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL) {
      spdlog::error("rocksdb: {}", line);
    } else {
      spdlog::warn("rocksdb: {}", line);
    }
  }
};

// RocksDB hands a "no space" error to its SstFileManager, which polls every 5 s and resumes only
// once write_buffer_size (64 MiB) is free; meanwhile DB::Resume() answers Busy. An Env that cannot
// tell free space turns that auto-recovery off (ErrorHandler::OverrideNoSpaceError), so the store
// resumes by itself as soon as a flush fits (RocksDbHistoryStore::recover). Nothing else in RocksDB
// needs GetFreeSpace() from the DB's Env (the SstFileManager asks its own FileSystem).
class NoFreeSpaceEnv final : public rocksdb::EnvWrapper {
 public:
  NoFreeSpaceEnv() : rocksdb::EnvWrapper(rocksdb::Env::Default()) {}
  static const char* kClassName() { return "WebimNoFreeSpaceEnv"; }
  const char* Name() const override { return kClassName(); }
  rocksdb::Status GetFreeSpace(const std::string&, uint64_t*) override {
    return rocksdb::Status::NotSupported("free space not reported (webim resumes the store itself)");
  }
};

std::unique_ptr<rocksdb::DB> openDb(const std::string& path) {
  static NoFreeSpaceEnv env;
  rocksdb::Options options;
  options.env = &env;
  options.create_if_missing = true;
  options.paranoid_checks = true;
  options.info_log = std::make_shared<SpdlogLogger>();
  // The store resumes itself after a write error (RocksDbHistoryStore::recover), from the loop;
  // RocksDB's own background resume thread would race with it.
  options.max_bgerror_resume_count = 0;
  // Reuse WAL files instead of growing new ones: a sync then has no file-size metadata to journal
  // (fdatasync of an extending file costs a filesystem journal commit, ~4 ms here; ~0.3 ms without).
  options.recycle_log_file_num = kRecycledWalFiles;
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(kBloomBitsPerKey));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, path, &db);
  if (!s.ok()) throw HistoryStoreError("cannot open store " + path + ": " + s.ToString());
  return std::unique_ptr<rocksdb::DB>(db);
}

void putBigEndian(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

uint64_t getBigEndian(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string channelPrefix(std::string_view channel) {
  std::string key;
  key.reserve(1 + channel.size() + 1 + 8);
  key.push_back(kMessagePrefix);
  key.append(channel);
  key.push_back('\0');
  return key;
}

std::string messageKey(std::string_view channel, uint64_t seq) {
  std::string key = channelPrefix(channel);
  putBigEndian(key, seq);
  return key;
}

std::string metaKey(std::string_view channel) {
  std::string key(1, kMetaPrefix);
  key.append(channel);
  return key;
}

std::string dedupKey(std::string_view from, std::string_view cid) {
  std::string key(1, kDedupPrefix);
  key.append(from);
  key.push_back('\0');
  key.append(cid);
  return key;
}

std::string revocationKey(std::string_view user) {
  std::string key(1, kRevocationPrefix);
  key.append(user);
  return key;
}

std::string encodeRevocation(int64_t notBeforeMs) {
  std::string v(1, kRecordVersion);
  putBigEndian(v, static_cast<uint64_t>(notBeforeMs));
  return v;
}

std::string encodeMeta(const ChannelMeta& meta) {
  std::string v(1, kRecordVersion);
  putBigEndian(v, meta.epoch);
  putBigEndian(v, meta.lastSeq);
  return v;
}

std::string encodeDedup(const DedupRecord& r) {
  std::string v(1, kRecordVersion);
  putBigEndian(v, r.epoch);
  putBigEndian(v, r.seq);
  putBigEndian(v, static_cast<uint64_t>(r.tsMs));
  v.append(r.channel);
  return v;
}

std::string encodeMessage(const StoredMessage& m) {
  wire::Delivery d;
  d.set_channel(m.channel);
  d.set_epoch(m.epoch);
  d.set_seq(m.seq);
  d.set_from(m.from);
  d.set_ts_ms(m.tsMs);
  d.set_data(m.data);
  return d.SerializeAsString();
}

StoredMessage decodeMessage(const rocksdb::Slice& value) {
  wire::Delivery d;
  if (!d.ParseFromArray(value.data(), static_cast<int>(value.size())))
    throw HistoryStoreError("corrupt message record");
  return StoredMessage{d.channel(), d.epoch(), d.seq(), d.from(), d.ts_ms(), d.data()};
}

// Get() with "not found" as nullopt and every other failure as HistoryStoreError.
std::optional<std::string> getValue(rocksdb::DB& db, const std::string& key) {
  std::string value;
  rocksdb::Status s = db.Get(rocksdb::ReadOptions(), key, &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) throw HistoryStoreError(s.ToString());
  return value;
}

}  // namespace

RocksDbHistoryStore::RocksDbHistoryStore(const std::string& path) : path_(path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) throw HistoryStoreError("cannot create " + path + ": " + ec.message());
  db_ = openDb(path);
}

rocksdb::DB& RocksDbHistoryStore::db() {
  if (!db_) {
    // A reopen failed (e.g. the disk was still full). Reads must retry it too: while every
    // publish fails at its first read, no commit would ever come to do it.
    if (std::chrono::steady_clock::now() >= nextAttempt_) {
      if (recover().empty()) return *db_;
      backoff_ = std::min(kMaxBackoff, std::max(kMinBackoff, backoff_ * 2));
      nextAttempt_ = std::chrono::steady_clock::now() + backoff_;
    }
    throw HistoryStoreError("store closed after a failed reopen (" + lastError_ + "); retrying");
  }
  return *db_;
}

RocksDbHistoryStore::~RocksDbHistoryStore() {
  if (db_) db_->Close().PermitUncheckedError();
}

std::optional<ChannelMeta> RocksDbHistoryStore::loadMeta(std::string_view channel) {
  auto value = getValue(db(), metaKey(channel));
  if (!value) return std::nullopt;
  if (value->size() != kMetaSize || (*value)[0] != kRecordVersion)
    throw HistoryStoreError("corrupt meta record for " + std::string(channel));
  return ChannelMeta{getBigEndian(value->data() + 1), getBigEndian(value->data() + 9)};
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
    const std::string& v = values[i];
    if (v.size() != kMetaSize || v[0] != kRecordVersion) throw HistoryStoreError("corrupt meta record for " + channels[i]);
    out[i] = ChannelMeta{getBigEndian(v.data() + 1), getBigEndian(v.data() + 9)};
  }
  return out;
}

std::optional<DedupRecord> RocksDbHistoryStore::loadDedup(std::string_view from,
                                                          std::string_view cid) {
  auto value = getValue(db(), dedupKey(from, cid));
  if (!value) return std::nullopt;
  if (value->size() < kDedupFixedSize || (*value)[0] != kRecordVersion)
    throw HistoryStoreError("corrupt dedup record");
  const char* p = value->data();
  return DedupRecord{value->substr(kDedupFixedSize), getBigEndian(p + 1), getBigEndian(p + 9),
                     static_cast<int64_t>(getBigEndian(p + 17))};
}

void RocksDbHistoryStore::commit(const WriteSet& batch, bool sync) {
  if (failed_) {
    const auto now = std::chrono::steady_clock::now();
    if (now < nextAttempt_)
      throw HistoryStoreError(
          "store unavailable after a write error (" + lastError_ + "); next recovery attempt in " +
          std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(nextAttempt_ - now).count()) + " ms");
    if (std::string error = recover(); !error.empty()) {
      backoff_ = std::min(kMaxBackoff, std::max(kMinBackoff, backoff_ * 2));
      nextAttempt_ = std::chrono::steady_clock::now() + backoff_;
      throw HistoryStoreError("store recovery failed: " + error);
    }
  }
  rocksdb::WriteBatch wb;
  if (undo_) {  // first, in the same atomic batch: the records of failed batches, if they landed
    for (const std::string& key : undo_->deletes) wb.Delete(key);
    for (const auto& [channel, meta] : undo_->metas)
      wb.Put(metaKey(channel), encodeMeta(ChannelMeta{meta.first, meta.second}));
  }
  for (const StoredMessage& m : batch.messages) wb.Put(messageKey(m.channel, m.seq), encodeMessage(m));
  for (const MetaEntry& e : batch.metas) wb.Put(metaKey(e.channel), encodeMeta(e.meta));
  for (const DedupEntry& e : batch.dedups) wb.Put(dedupKey(e.from, e.cid), encodeDedup(e.record));
  for (const Revocation& r : batch.revocations) wb.Put(revocationKey(r.user), encodeRevocation(r.notBeforeMs));
  rocksdb::WriteOptions options;
  options.sync = sync;
  rocksdb::Status s = db_ ? db_->Write(options, &wb) : rocksdb::Status::IOError("store closed");
  if (s.ok()) {
    undo_.reset();
    return;
  }
  rememberUndo(batch);
  lastError_ = s.ToString();
  if (!failed_) backoff_ = kMinBackoff;
  failed_ = true;
  nextAttempt_ = std::chrono::steady_clock::now() + backoff_;
  throw HistoryStoreError(lastError_);
}

void RocksDbHistoryStore::rememberUndo(const WriteSet& batch) {
  if (!undo_) undo_ = std::make_unique<Undo>();
  std::map<std::string, std::pair<uint64_t, uint64_t>> first;  // channel -> (epoch, first seq)
  for (const StoredMessage& m : batch.messages) {
    undo_->deletes.push_back(messageKey(m.channel, m.seq));
    auto [it, added] = first.emplace(m.channel, std::make_pair(m.epoch, m.seq));
    if (!added) it->second.second = std::min(it->second.second, m.seq);
  }
  for (const DedupEntry& d : batch.dedups) undo_->deletes.push_back(dedupKey(d.from, d.cid));
  // The sequencer rolled these channels back to first seq - 1 (their last durable seq). A meta
  // written without messages (a channel created for a subscriber) is left: the sequencer forgot
  // that channel and reads it from the store again.
  for (const auto& [channel, v] : first) {
    auto [it, added] = undo_->metas.emplace(channel, std::make_pair(v.first, v.second - 1));
    if (!added) it->second.second = std::min(it->second.second, v.second - 1);
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
      db_ = openDb(path_);
    } catch (const HistoryStoreError& e) {
      lastError_ = e.what();
      return lastError_;
    }
  }
  ++recoveries_;
  failedResumes_ = 0;
  failed_ = false;
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
  const std::string lower = channelPrefix(channel);
  std::string upper = lower;
  upper.back() = '\1';  // just past every key of this channel
  rocksdb::Slice lowerSlice(lower), upperSlice(upper);
  rocksdb::ReadOptions options;
  options.iterate_lower_bound = &lowerSlice;
  options.iterate_upper_bound = &upperSlice;
  std::unique_ptr<rocksdb::Iterator> it(db().NewIterator(options));

  const bool backward = query.before != 0;
  size_t bytes = 0;
  auto fits = [&](const rocksdb::Slice& value) {
    if (page.msgs.size() >= query.limit) return false;
    // At least one message per page, so paging always makes progress.
    if (!page.msgs.empty() && bytes + value.size() > query.maxBytes) return false;
    return true;
  };
  if (backward) {
    it->SeekForPrev(messageKey(channel, query.before - 1));
    for (; it->Valid(); it->Prev()) {
      if (!fits(it->value())) {
        page.more = true;
        break;
      }
      bytes += it->value().size();
      page.msgs.push_back(decodeMessage(it->value()));
    }
    std::reverse(page.msgs.begin(), page.msgs.end());
  } else {
    if (query.after == UINT64_MAX) return page;
    it->Seek(messageKey(channel, query.after + 1));
    for (; it->Valid(); it->Next()) {
      if (!fits(it->value())) {
        page.more = true;
        break;
      }
      bytes += it->value().size();
      page.msgs.push_back(decodeMessage(it->value()));
    }
  }
  if (!it->status().ok()) throw HistoryStoreError(it->status().ToString());
  return page;
}

uint64_t RocksDbHistoryStore::countChannels() {
  const std::string lower(1, kMetaPrefix), upper(1, kMetaPrefix + 1);
  rocksdb::Slice lowerSlice(lower), upperSlice(upper);
  rocksdb::ReadOptions options;
  options.iterate_lower_bound = &lowerSlice;
  options.iterate_upper_bound = &upperSlice;
  std::unique_ptr<rocksdb::Iterator> it(db().NewIterator(options));
  uint64_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
  if (!it->status().ok()) throw HistoryStoreError(it->status().ToString());
  return n;
}

namespace {
// Calls f(user, notBeforeMs) for every revocation record.
template <class F>
void forEachRevocation(rocksdb::DB& db, F&& f) {
  const std::string lower(1, kRevocationPrefix), upper(1, kRevocationPrefix + 1);
  rocksdb::Slice lowerSlice(lower), upperSlice(upper);
  rocksdb::ReadOptions options;
  options.iterate_lower_bound = &lowerSlice;
  options.iterate_upper_bound = &upperSlice;
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(options));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    rocksdb::Slice v = it->value();
    if (v.size() != 9 || v[0] != kRecordVersion) throw HistoryStoreError("corrupt revocation record");
    f(std::string_view(it->key().data() + 1, it->key().size() - 1), static_cast<int64_t>(getBigEndian(v.data() + 1)));
  }
  if (!it->status().ok()) throw HistoryStoreError(it->status().ToString());
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
  const std::string upper(1, kMetaPrefix + 1);
  rocksdb::Slice upperSlice(upper);
  rocksdb::ReadOptions options;
  options.iterate_upper_bound = &upperSlice;
  std::unique_ptr<rocksdb::Iterator> it(db().NewIterator(options));
  const std::string start = metaKey(after);
  for (it->Seek(start); it->Valid() && out.size() < limit; it->Next()) {
    if (it->key() == rocksdb::Slice(start)) continue;  // strictly after
    out.emplace_back(it->key().data() + 1, it->key().size() - 1);
  }
  if (!it->status().ok()) throw HistoryStoreError(it->status().ToString());
  return out;
}

TrimResult RocksDbHistoryStore::trimHistory(std::string_view channel, const TrimRequest& request) {
  TrimResult result;
  auto meta = loadMeta(channel);
  if (!meta) return result;
  // Everything at or below `cut` goes: the count limit first (one range delete, whatever its size).
  uint64_t cut = 0;
  if (request.keepLast != UINT64_MAX && meta->lastSeq > request.keepLast) cut = meta->lastSeq - request.keepLast;

  const std::string lower = channelPrefix(channel);
  std::string upper = lower;
  upper.back() = '\1';
  rocksdb::Slice lowerSlice(lower), upperSlice(upper);
  rocksdb::ReadOptions options;
  options.iterate_lower_bound = &lowerSlice;
  options.iterate_upper_bound = &upperSlice;
  std::unique_ptr<rocksdb::Iterator> it(db().NewIterator(options));
  it->SeekToFirst();
  if (!it->Valid()) {
    if (!it->status().ok()) throw HistoryStoreError(it->status().ToString());
    return result;  // no messages at all
  }
  const uint64_t oldest = getBigEndian(it->key().data() + it->key().size() - 8);
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
      wire::Delivery d;
      if (!d.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())))
        throw HistoryStoreError("corrupt message record");
      if (d.ts_ms() >= request.minTsMs) break;
      cut = std::max(cut, d.seq());
      ++result.deleted;
    }
    if (!it->status().ok()) throw HistoryStoreError(it->status().ToString());
  }
  if (cut < oldest) return result;
  rocksdb::WriteBatch wb;
  wb.DeleteRange(lower, messageKey(channel, cut + 1));
  rocksdb::WriteOptions wo;  // not synced: a crash may undo a trim, the next pass redoes it
  rocksdb::Status s = db().Write(wo, &wb);
  if (!s.ok()) throw HistoryStoreError(s.ToString());
  return result;
}

}  // namespace webim::hub
