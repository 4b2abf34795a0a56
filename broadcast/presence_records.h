// The RocksDB store's presence record (docs/architecture.md "Presence"): each user's last seen,
// under its own key prefix (no format migration: older binaries never read the prefix). Pure.
//   'p' user   last seen   v1: 0x01 seen_ms(8, big-endian)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace webim::hub {

constexpr char kLastSeenPrefix = 'p';

std::string lastSeenKey(std::string_view user);
std::string encodeLastSeen(int64_t seenMs);
// Throws HistoryStoreError on a malformed or unknown record.
int64_t decodeLastSeen(std::string_view record);

}  // namespace webim::hub
