// Presence in the RocksDB store: last-seen records written with a batch (presence_records.h).
#pragma once

#include <rocksdb/write_batch.h>

#include <vector>

#include "broadcast/history_store.h"

namespace webim::hub {

void putLastSeen(rocksdb::WriteBatch& batch, const std::vector<PresenceLastSeen>& lastSeen);

}  // namespace webim::hub
