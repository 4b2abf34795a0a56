// A user's own publish marks the channel read up to it (docs/architecture.md "Read cursors",
// docs/protocol.md "Read cursors and receipts"). Pure: which publishes do, and how they join the
// cursor records a batch's reads staged (one record per (channel, user) per batch). The hub
// (broadcast/hub_own_reads.cpp) collects them after the batch is sequenced.
//
// Only a client's publish (from = the token's subject) of a new message (not a retry answered from
// dedup, not an edit or delete entry, not a signal, not the app's) on a channel its sender can
// `read`: not an inbox (`user:`), where publishing into someone's inbox is not reading it.
//
// Its seq is sequenced in this batch, so it is past every cursor (a cursor never passes the durable
// seq), and it becomes durable in the same commit as the cursor record: max(cursor, seq) is seq,
// and the clamp to the durable seq holds once the record does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "broadcast/history_store.h"

namespace webim::hub {

// Whether a publish on `channel` moves its sender's cursor (every channel but inboxes).
bool ownReadApplies(std::string_view channel);

// One publish that moves its sender's cursor: (channel, from, seq), in sequencing order.
struct OwnRead {
  std::string channel;
  std::string user;
  uint64_t seq = 0;
};

struct OwnReadsMerge {
  // Indexes into the own reads that carry their key's receipt (the last one of each key, which
  // has its largest seq).
  std::vector<size_t> receipts;
  // The keys (BatchCursors::key) the own reads moved: a read of the batch on them gives no receipt.
  std::vector<std::string> keys;
  size_t added = 0;  // new records (the other keys were staged by a read and raised)
};

// Joins `reads` into the batch's staged cursor records `staged` (one per key already): a key
// already staged is raised to max(staged, seq), another gets one new record.
OwnReadsMerge mergeOwnReads(const std::vector<OwnRead>& reads, std::vector<ReadCursor>& staged);

}  // namespace webim::hub
