// Edit and delete (docs/protocol.md "Edit and delete"; docs/architecture.md "Edit and delete"): the
// checks an edit or delete entry passes before the hub sequences it. Pure: the caller looks the
// target message up (the current batch first, then the store) and hands it in.
//
// An edit or delete of seq S in channel C is a publish to C whose PublishInput names S (editOf or
// deleteOf): sequenced, stored, acked, deduplicated by cid and published like any message. S must
// be a message (not an edit or delete entry) that is not deleted, written by the sender, unless the
// app sends it (the app may edit or delete any message).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "broadcast/history_store.h"
#include "broadcast/sequencer.h"

namespace webim::hub {

struct EditRefusal {
  std::string code;  // a docs/protocol.md error code
  std::string message;
};

// The seq an edit or delete names (0: a plain publish).
inline uint64_t editTargetSeq(const PublishInput& in) { return in.editOf != 0 ? in.editOf : in.deleteOf; }

// Why the entry `in` may not act on `target` (nullptr: no such message, or trimmed by retention),
// nullopt when it may. deletedInBatch: a delete of the target is already in the current batch.
// byApp: sent by the app (any author).
std::optional<EditRefusal> checkEdit(const PublishInput& in, const StoredMessage* target, bool deletedInBatch,
                                     bool byApp);

}  // namespace webim::hub
