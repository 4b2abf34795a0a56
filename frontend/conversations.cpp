// Conversations (docs/protocol.md "Conversations", docs/architecture.md "Conversations"): the
// `conversations` query (a page from the hub owning the user's inbox, then the unread counts through
// the unread path, read_requests.cpp) and the touches that keep the index of rooms current.
#include <chrono>

#include "common/channel_rules.h"
#include "common/topics.h"
#include "common/websocket_handshake.h"
#include "frontend/connection.h"
#include "frontend/frontend.h"

namespace webim {

namespace {

int64_t wallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void Connection::handleConversations(const ClientRequest& request) {
  if (request.hasBeforeItem && !isValidChannelName(request.beforeCh)) {
    return replyError(request, "bad_request", "\"before.ch\" must be a channel name");
  }
  wire::FrontendRequest query;
  wire::ConversationsQuery* body = query.mutable_conversations();
  body->set_user(session_.user);
  body->set_limit(request.limit);
  body->set_has_before(request.hasBeforeItem);
  body->set_before_ts(request.beforeTs);
  body->set_before_channel(std::string(request.beforeCh));
  conversations(request.id, std::move(query));
}

// The page, then its granted channels' counts (unreadCounts answers). A channel the token does not
// grant (a room whose grant was taken away) is left out: the page may hold fewer than `limit`.
Task Connection::conversations(int64_t id, wire::FrontendRequest query) {
  const std::string inbox = std::string(kInboxPrefix) + session_.user;
  HubCall call(frontend().hubFor(inbox), pending_, query, frontend().nowMs() + frontend().config().hubTimeoutMs);
  HubResult result = co_await call;
  if (result.status == WaitStatus::Cancelled) co_return;
  if (!hubAnswered(id, result, "the hub did not answer in time")) co_return;
  const wire::ConversationList& list = result.reply.conversations();
  std::vector<std::string> channels;
  ConversationRows rows;
  rows.more = list.more();
  const int n = std::min({list.channels_size(), list.ts_ms_size(), list.seqs_size()});
  for (int i = 0; i < n; ++i) {
    if (!session_.canSubscribe(list.channels(i))) continue;
    channels.push_back(list.channels(i));
    rows.ts.push_back(list.ts_ms(i));
    rows.seqs.push_back(list.seqs(i));
  }
  unreadCounts(id, session_.user, std::move(channels), false, std::move(rows));
}

void Connection::answerConversations(int64_t id, bool api, const std::vector<std::string>& channels,
                                     const ConversationRows& rows, const std::vector<uint64_t>& counts,
                                     const std::vector<uint64_t>& reads, const std::vector<uint64_t>& peerReads) {
  std::string out;
  JsonWriter writer(out);
  writeConversations(writer, id, api, channels, rows, counts, reads, peerReads);
  if (api) return finishHttp(httpResponse(200, "application/json", out));
  sendReply(out);
}

// After an acked pub or read of a room (not a dm:, whose hub notes it with the notice, nor an
// inbox): the hub of the user's inbox moves it up in the conversation index. Best effort, like a
// read notice (req_id 0).
void Connection::touchConversation(const std::string& channel, uint64_t seq) {
  const ChannelKind kind = channelKind(channel);
  if (kind == ChannelKind::Dm || kind == ChannelKind::User) return;
  const std::string inbox = std::string(kInboxPrefix) + session_.user;
  wire::FrontendRequest touch;
  wire::ConversationTouch* body = touch.mutable_conversation_touch();
  body->set_user(session_.user);
  body->set_channel(channel);
  body->set_ts_ms(wallMs());
  body->set_seq(seq);
  (void)frontend().hubFor(inbox).post(touch);
}

}  // namespace webim
