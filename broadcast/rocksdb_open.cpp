#include "broadcast/rocksdb_open.h"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/rate_limiter.h>
#include <rocksdb/table.h>
#include <spdlog/spdlog.h>

#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "broadcast/history_store.h"

namespace webim::hub::rocks {

namespace {

constexpr int kBloomBitsPerKey = 10;
constexpr size_t kRecycledWalFiles = 4;

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

// Writeback and placement (docs/durability.md "Disk layout"). bytes_per_sync: RocksDB asks the
// kernel to start writing an SST file every MiB as it is built (sync_file_range), so a 64 MiB
// memtable flush or a compaction reaches the disk as a steady stream instead of one burst at the
// file's fsync, which would queue the group commit's WAL fdatasync behind it on the same device.
// wal_bytes_per_sync does the same for the WAL when sync is off. The rate limiter caps flush and
// compaction writes (never the WAL); 0 leaves them unlimited.
void applyIoOptions(const IoOptions& io, rocksdb::Options& options) {
  if (!io.walDir.empty()) options.wal_dir = io.walDir;
  options.bytes_per_sync = io.bytesPerSync;
  options.wal_bytes_per_sync = io.walBytesPerSync;
  if (io.rateLimitBytesPerSec > 0) options.rate_limiter.reset(rocksdb::NewGenericRateLimiter(io.rateLimitBytesPerSec));
}

namespace fs = std::filesystem;

// The number of WAL files (NNNNNN.log) in `dir`; 0 when it does not exist.
size_t walFilesIn(const fs::path& dir) {
  size_t n = 0;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const size_t dot = name.find(".log");
    if (dot != std::string::npos && dot > 0 && dot + 4 == name.size() &&
        name.find_first_not_of("0123456789") == dot)
      ++n;
  }
  return n;
}

// The wal_dir the store was last opened with ("" = in the DB directory), from its newest OPTIONS file.
std::string previousWalDir(const fs::path& db) {
  fs::path newest;
  std::error_code ec;
  for (fs::directory_iterator it(db, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind("OPTIONS-", 0) == 0 && name.find(".dbtmp") == std::string::npos &&
        (newest.empty() || name > newest.filename().string()))
      newest = it->path();
  }
  if (newest.empty()) return {};
  std::ifstream in(newest);
  for (std::string line; std::getline(in, line);) {
    const size_t at = line.find_first_not_of(" \t");
    if (at != std::string::npos && line.compare(at, 8, "wal_dir=") == 0) return line.substr(at + 8);
  }
  return {};
}

bool sameDir(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  return fs::equivalent(a, b, ec) || fs::weakly_canonical(a, ec) == fs::weakly_canonical(b, ec);
}

// RocksDB replays only the WAL files in the wal_dir it is given: opened with another one than
// last time, it would drop every acknowledged message still only in the old WAL (and start a new
// store in the same directory). Refuse instead, saying what to move where.
void checkWalPlacement(const std::string& path, const IoOptions& io) {
  const fs::path want = io.walDir.empty() ? fs::path(path) : fs::path(io.walDir);
  std::string was = previousWalDir(path);
  const fs::path before = was.empty() ? fs::path(path) : fs::path(was);
  if (sameDir(want, before) || walFilesIn(before) == 0) return;
  throw HistoryStoreError("the store's WAL files (*.log) are in " + before.string() + " (its last wal_dir), but wal_dir is now " +
                          (io.walDir.empty() ? "unset (the data directory)" : io.walDir) +
                          ": opening it so would lose acknowledged messages. With the hub stopped, move the *.log "
                          "files to " + want.string() + ", or set wal_dir back (docs/durability.md, \"Disk layout\")");
}

}  // namespace

std::unique_ptr<rocksdb::DB> openDb(const std::string& path, const IoOptions& io) {
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
  // Point lookups (meta, dedup) mostly miss on new cids: a Bloom filter answers them from memory.
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(kBloomBitsPerKey));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // The same in the memtable (~1.3 MB per 64 MB memtable): a new cid's dedup Get was 11 % of the
  // hub's CPU at 300 publishes/s, a walk of the memtable's skip list (docs/architecture.md "Where
  // the hub's time goes").
  options.memtable_prefix_bloom_size_ratio = 0.02;
  options.memtable_whole_key_filtering = true;
  applyIoOptions(io, options);
  checkWalPlacement(path, io);
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, path, &db);
  if (!s.ok()) throw HistoryStoreError("cannot open store " + path + ": " + s.ToString());
  return std::unique_ptr<rocksdb::DB>(db);
}

std::optional<std::string> getValue(rocksdb::DB& db, const std::string& key) {
  std::string value;
  rocksdb::Status s = db.Get(rocksdb::ReadOptions(), key, &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) throw HistoryStoreError(s.ToString());
  return value;
}

}  // namespace webim::hub::rocks
