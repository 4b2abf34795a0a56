// Edit and delete entries in the hub's batch (message_edits.h has the checks). Staged like a publish
// after their checks; a delete also stages the redaction of its message (its data removed from the
// store in the same commit). A batch holding one is committed whole (Hub::processBatch), as a kick's:
// every earlier batch is durable when its targets are read, and a failed commit leaves nothing of
// it, so no redaction ever needs undoing.
#include "broadcast/hub.h"
#include "broadcast/message_edits.h"

namespace webim::hub {

bool isEditOrDelete(const HubRequest& request) {
  const auto* publish = std::get_if<PublishRequest>(&request);
  return publish != nullptr && editTargetSeq(publish->input) != 0;
}

// The target of an edit or delete: from the current batch when it holds it, else from the store.
// Throws HistoryStoreError.
std::optional<StoredMessage> Hub::editTarget(const std::string& channel, uint64_t seq, bool& deletedInBatch) {
  const WriteSet& pending = sequencer_.pending();
  for (const Redaction& r : pending.redactions) {
    if (r.seq == seq && r.channel == channel) deletedInBatch = true;
  }
  for (auto it = pending.messages.rbegin(); it != pending.messages.rend(); ++it) {
    if (it->seq == seq && it->channel == channel) return *it;
  }
  return store_.loadMessage(channel, seq);
}

void Hub::stageEdit(Request& r, PublishRequest& publish) {
  PublishInput& in = publish.input;
  // A retry is answered with its first result, whatever happened to the target since.
  if (sequencer_.seenBefore(in, nowMs())) return stagePublish(r, publish);
  const uint64_t seq = editTargetSeq(in);
  bool deletedInBatch = false;
  std::optional<StoredMessage> target;
  try {
    target = editTarget(in.channel, seq, deletedInBatch);
  } catch (const HistoryStoreError& e) {
    r.request = RequestError{"unavailable", e.what()};
    return;
  }
  const bool byApp = r.form != ReplyForm::Frontend;
  if (std::optional<EditRefusal> refusal = checkEdit(in, target ? &*target : nullptr, deletedInBatch, byApp)) {
    r.request = RequestError{std::move(refusal->code), std::move(refusal->message)};
    return;
  }
  const bool isDelete = in.deleteOf != 0;
  std::string channel = in.channel;
  stagePublish(r, publish);
  if (isDelete && r.outcome.status == PublishStatus::Sequenced) sequencer_.stage(Redaction{std::move(channel), seq});
}

}  // namespace webim::hub
