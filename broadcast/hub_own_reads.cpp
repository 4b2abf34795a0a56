// A client's own publish marks the channel read up to it (broadcast/own_reads.h, docs/architecture.md
// "Read cursors"): after a batch is sequenced, each (channel, sender) its client publishes moved
// gets one cursor record in the batch's commit (joined with the records its reads staged), and,
// once durable, one receipt like a read's: on the channel (dm:, receipt_namespaces) and on the
// sender's inbox when this hub owns it (else the frontend posts it there: PublishAck.read).
// No store read: the new seq is past every stored cursor.
#include <unordered_set>

#include "broadcast/hub.h"
#include "broadcast/own_reads.h"
#include "common/topics.h"

namespace webim::hub {

// Each Sequenced request names its message in the batch (PublishOutcome::messageIndex): the batch also
// holds messages of no request (the dm notices staged with a dm message, stageDmNotices).
void Hub::stageOwnReads(std::vector<Request>& batch) {
  const std::vector<StoredMessage>& messages = sequencer_.pending().messages;
  std::vector<OwnRead> reads;
  std::vector<Request*> from;
  for (Request& r : batch) {
    if (r.outcome.status != PublishStatus::Sequenced || r.outcome.messageIndex >= messages.size()) continue;
    const StoredMessage& m = messages[r.outcome.messageIndex];
    if (r.form != ReplyForm::Frontend || m.editOf != 0 || m.deleteOf != 0 || !ownReadApplies(m.channel)) continue;
    reads.push_back(OwnRead{m.channel, m.from, m.seq});
    from.push_back(&r);
  }
  if (reads.empty()) return;
  const OwnReadsMerge merged = mergeOwnReads(reads, sequencer_.stagedCursors());
  stats_.cursorsWritten += merged.added;
  for (size_t i : merged.receipts) from[i]->ownRead = std::move(reads[i]);
  // A read of the batch on one of these keys: the publish's receipt carries the final value.
  std::unordered_set<std::string> keys;
  for (Request& r : batch) {
    auto* read = std::get_if<ReadCursorRequest>(&r.request);
    if (read == nullptr || !read->receipt) continue;
    if (keys.empty()) keys.insert(merged.keys.begin(), merged.keys.end());
    if (keys.count(BatchCursors::key(read->channel, read->user)) != 0) read->receipt = false;
  }
}

// Once durable (publishReceipts): the sender's cursor is at the message's seq.
void Hub::publishOwnReceipt(const OwnRead& read) {
  if (receiptsFor(read.channel)) {
    publisher_.publishReceipt(read.channel, read.channel, read.user, read.seq);
    ++stats_.receipts;
  }
  const std::string inbox = std::string(kInboxPrefix) + read.user;
  // No frontend holds the inbox: no device to tell (nothing encoded).
  if (holds(read.user) && decoder_.scope().owns(inbox)) publisher_.publishReceipt(inbox, read.channel, read.user, read.seq);
}

}  // namespace webim::hub
