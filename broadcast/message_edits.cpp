#include "broadcast/message_edits.h"

namespace webim::hub {

std::optional<EditRefusal> checkEdit(const PublishInput& in, const StoredMessage* target, bool deletedInBatch,
                                     bool byApp) {
  const bool isDelete = in.deleteOf != 0;
  const uint64_t seq = editTargetSeq(in);
  if (target == nullptr) return EditRefusal{"not_found", "no message " + std::to_string(seq) + " in this channel"};
  if (target->editOf != 0 || target->deleteOf != 0) {
    return EditRefusal{"bad_request", "seq " + std::to_string(seq) + " is an edit or delete entry, not a message"};
  }
  if (!byApp && target->from != in.from) {
    return EditRefusal{"forbidden", std::string("only its author may ") + (isDelete ? "delete" : "edit") + " a message"};
  }
  if (target->deleted || deletedInBatch) return EditRefusal{"forbidden", "the message is deleted"};
  return std::nullopt;
}

}  // namespace webim::hub
