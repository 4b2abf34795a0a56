// Conversations in the hub (docs/architecture.md "Conversations"): the requests a frontend sends to
// the hub owning a user's inbox, and the pure rules of DM notices. No I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "broadcast/history_store.h"
#include "broadcast/sequencer.h"
#include "common/conversations_request.h"  // kDefaultConversationsLimit, kMaxConversationsLimit

namespace webim::wire {
class ConversationTouch;
class ConversationsQuery;
class DmNotice;
}  // namespace webim::wire

namespace webim::hub {

// wire::ConversationTouch (req_id 0): staged into the batch's conversation index, never answered.
struct ConversationTouchRequest {
  ConversationTouch touch;
};

// wire::ConversationsQuery: one page of the user's index, read once the batch is durable.
struct ConversationsRequest {
  ConversationQuery query;
};


// The two participants of dm:<a>:<b>; nullopt for any other channel.
std::optional<std::pair<std::string, std::string>> dmParticipants(std::string_view channel);

// The dedup sender of DM notices: its first byte is a control character, which no token subject
// has (isValidUserId) and the frontends never send, so no publish can take a notice's dedup key.
inline constexpr std::string_view kNoticeSender = "\x01notice";

// The notice of dm message (`dm`, `seq`) by `from` for `user`'s inbox. With `dedup`, it carries
// the dedup key (kNoticeSender + user, "<dm>#<seq>"): a peer hub sending it again stores it once
// (one key per inbox: both participants' notices of one message may come to the same hub).
PublishInput noticeInput(const std::string& user, const std::string& dm, uint64_t seq, const std::string& from,
                         bool dedup);

// The conversation touch of a peer hub's dm notice (input.noticeSeq set: its user's inbox is
// `input.channel`), nullopt for any other publish.
std::optional<ConversationTouch> noticeTouch(const PublishInput& input, int64_t nowMs);

}  // namespace webim::hub
