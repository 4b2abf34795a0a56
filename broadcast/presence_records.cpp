// The RocksDB store's presence record (presence_records.h).
#include "broadcast/presence_records.h"

#include "broadcast/history_store.h"
#include "common/big_endian.h"

namespace webim::hub {

namespace {
constexpr char kLastSeenVersion = 1;
constexpr size_t kLastSeenSize = 9;
}  // namespace

std::string lastSeenKey(std::string_view user) {
  std::string key(1, kLastSeenPrefix);
  key.append(user);
  return key;
}

std::string encodeLastSeen(int64_t seenMs) {
  std::string v(1, kLastSeenVersion);
  appendBigEndian<uint64_t>(v, static_cast<uint64_t>(seenMs));
  return v;
}

int64_t decodeLastSeen(std::string_view record) {
  if (record.size() != kLastSeenSize || record[0] != kLastSeenVersion) {
    throw HistoryStoreError("corrupt last-seen record");
  }
  return static_cast<int64_t>(loadBigEndian<uint64_t>(record.data() + 1));
}

}  // namespace webim::hub
