// Opening the RocksDB store's DB with the options the store relies on (rocksdb_open.cpp says why
// each is set). Separate from the store so the migrations and the recovery path open it the same way.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace rocksdb {
class DB;
}

namespace webim::hub::rocks {

// Where and how fast the store writes (hub config: wal_dir, io_rate_limit, bytes_per_sync,
// wal_bytes_per_sync; docs/durability.md "Disk layout"). None of them changes what is durable when.
struct IoOptions {
  std::string walDir;              // "" = the WAL in the DB directory; else its own (a dedicated device)
  int64_t rateLimitBytesPerSec = 0;  // flush + compaction writes, bytes/s; 0 = unlimited (WAL never limited)
  uint64_t bytesPerSync = 1 << 20;     // SST files: sync_file_range every this many bytes; 0 = off
  uint64_t walBytesPerSync = 1 << 20;  // the WAL likewise (matters with sync off); 0 = off
};

// Opens (creating if missing) the DB in `path`. Throws HistoryStoreError with RocksDB's message
// when it cannot (unwritable directory, locked by another process, corruption).
std::unique_ptr<rocksdb::DB> openDb(const std::string& path, const IoOptions& io = {});

// Get() with "not found" as nullopt and every other failure as HistoryStoreError.
std::optional<std::string> getValue(rocksdb::DB& db, const std::string& key);

}  // namespace webim::hub::rocks
