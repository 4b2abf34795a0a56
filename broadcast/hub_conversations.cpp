// Conversations in the hub (docs/architecture.md "Conversations"): DM notices staged with the dm
// message that causes them, the conversation index's touches, and the `conversations` page.
#include <spdlog/spdlog.h>

#include "broadcast/hub.h"
#include "common/topics.h"

namespace webim::hub {

// A new message (not an edit or delete entry) was sequenced in `dm`: each participant whose inbox
// this hub owns gets its notice in the same batch (one commit: atomic, nothing to retry), and the
// dm moves up in their conversation index. Inboxes of other shards: hub_outbox.cpp.
void Hub::stageDmNotices(const std::string& dm, uint64_t seq, const std::string& from, int64_t tsMs) {
  const auto participants = dmParticipants(dm);
  if (!participants) return;
  for (const std::string* user : {&participants->first, &participants->second}) {
    if (user == &participants->second && participants->second == participants->first) break;  // dm:a:a: one inbox
    const std::string inbox = std::string(kInboxPrefix) + *user;
    if (!decoder_.scope().owns(inbox)) {
      stageRemoteNotice(*user, dm, seq, from, tsMs);
      continue;
    }
    PublishOutcome out = sequencer_.sequence(noticeInput(*user, dm, seq, from, false), tsMs);
    if (out.status != PublishStatus::Sequenced) {
      // The store could not be read for the inbox's meta: the batch's commit most likely fails too.
      spdlog::warn("dm notice of {} seq {} for {} not staged: {}", dm, seq, *user, out.message);
      continue;
    }
    sequencer_.stage(ConversationTouch{*user, dm, tsMs, seq});
    ++stats_.dmNotices;
  }
}

void Hub::answer(Request& r, const ConversationsRequest& request) {
  wire::HubReply reply;
  try {
    ConversationPage page = store_.loadConversations(request.query);
    if (r.form != ReplyForm::Frontend) return replyApp(r, encodeConversationsOk(page));  // app_conversations.cpp
    wire::ConversationList* list = reply.mutable_conversations();
    for (ConversationItem& item : page.items) {
      list->add_channels(std::move(item.channel));
      list->add_ts_ms(item.tsMs);
      list->add_seqs(item.seq);
    }
    list->set_more(page.more);
  } catch (const HistoryStoreError& e) {
    return replyError(r, "unavailable", e.what());
  }
  replyFrontend(r, reply);
}

}  // namespace webim::hub
