// Opening the RocksDB store's DB with the options the store relies on (rocksdb_open.cpp says why
// each is set). Separate from the store so the migrations and the recovery path open it the same way.
#pragma once

#include <memory>
#include <optional>
#include <string>

namespace rocksdb {
class DB;
}

namespace webim::hub::rocks {

// Opens (creating if missing) the DB in `path`. Throws HistoryStoreError with RocksDB's message
// when it cannot (unwritable directory, locked by another process, corruption).
std::unique_ptr<rocksdb::DB> openDb(const std::string& path);

// Get() with "not found" as nullopt and every other failure as HistoryStoreError.
std::optional<std::string> getValue(rocksdb::DB& db, const std::string& key);

}  // namespace webim::hub::rocks
