// RocksDB adapter for HistoryStore (the embedded default). One DB, one column family, records
// separated by a one-byte prefix (channel names never contain '\0', so '\0' ends a name):
//   'm' + channel + '\0' + seq (8 bytes big-endian) -> Delivery protobuf (the message)
//   'c' + channel                                   -> meta  {version, epoch, last seq}
//   'd' + from + '\0' + cid                         -> dedup {version, epoch, seq, ts, channel}
// Big-endian seq makes byte order = seq order, so a page is one iterator range.
#pragma once

#include <memory>
#include <string>

#include "broadcast/history_store.h"

namespace rocksdb {
class DB;
}

namespace webim::hub {

class RocksDbHistoryStore final : public HistoryStore {
 public:
  // Creates the directory and the DB if missing. Throws HistoryStoreError with RocksDB's message
  // when the DB cannot be opened (unwritable directory, locked by another process, corruption).
  explicit RocksDbHistoryStore(const std::string& path);
  ~RocksDbHistoryStore() override;  // closes the DB (flushes nothing extra: the WAL is durable)

  std::optional<ChannelMeta> loadMeta(std::string_view channel) override;
  std::optional<DedupRecord> loadDedup(std::string_view from, std::string_view cid) override;
  std::string commit(const WriteSet& batch, bool sync) override;
  HistoryPage readPage(std::string_view channel, const HistoryQuery& query) override;
  uint64_t countChannels() override;

 private:
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace webim::hub
