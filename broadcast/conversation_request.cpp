#include "broadcast/conversation_request.h"

#include "broadcast/hub_request.h"
#include "common/channel_rules.h"
#include "common/token.h"
#include "common/topics.h"
#include "proto/webim.pb.h"

namespace webim::hub {

std::optional<std::pair<std::string, std::string>> dmParticipants(std::string_view channel) {
  constexpr std::string_view kDm = "dm:";
  if (channel.substr(0, kDm.size()) != kDm) return std::nullopt;
  const size_t colon = channel.find(':', kDm.size());
  if (colon == std::string_view::npos) return std::nullopt;
  std::string a(channel.substr(kDm.size(), colon - kDm.size()));
  std::string b(channel.substr(colon + 1));
  if (a.empty() || b.empty()) return std::nullopt;
  return std::make_pair(std::move(a), std::move(b));
}

PublishInput noticeInput(const std::string& user, const std::string& dm, uint64_t seq, const std::string& from,
                         bool dedup) {
  PublishInput in;
  in.channel = std::string(kInboxPrefix) + user;
  in.from = from;
  in.noticeChannel = dm;
  in.noticeSeq = seq;
  if (dedup) {  // one key per inbox: both participants' notices of a message may come to one hub
    in.dedupFrom = std::string(kNoticeSender) + user;
    in.cid = dm + "#" + std::to_string(seq);
  }
  return in;
}

std::optional<ConversationTouch> noticeTouch(const PublishInput& input, int64_t nowMs) {
  if (input.noticeSeq == 0 || !input.channel.starts_with(kInboxPrefix)) return std::nullopt;
  const int64_t ts = input.noticeTsMs > 0 ? input.noticeTsMs : nowMs;  // the message's time, not the arrival's
  return ConversationTouch{input.channel.substr(kInboxPrefix.size()), input.noticeChannel, ts, input.noticeSeq};
}

namespace {

std::optional<RequestError> checkInbox(const ShardScope& scope, const std::string& user) {
  if (!isValidUserId(user)) return RequestError{"bad_request", "invalid user"};
  const std::string inbox = std::string(kInboxPrefix) + user;
  if (!isValidChannelName(inbox)) return RequestError{"bad_request", "invalid user"};
  if (!scope.owns(inbox)) return RequestError{"wrong_shard", scope.wrongShardMessage(inbox)};
  return std::nullopt;
}

}  // namespace

HubRequest decodeConversationTouch(wire::ConversationTouch& t, const ShardScope& scope) {
  if (auto error = checkInbox(scope, t.user())) return std::move(*error);
  if (!isValidChannelName(t.channel())) return RequestError{"bad_request", "invalid channel name"};
  return ConversationTouchRequest{
      ConversationTouch{std::move(*t.mutable_user()), std::move(*t.mutable_channel()), t.ts_ms(), t.seq()}};
}

HubRequest decodeConversations(wire::ConversationsQuery& q, const ShardScope& scope) {
  if (auto error = checkInbox(scope, q.user())) return std::move(*error);
  const uint32_t limit = q.limit() == 0 ? kDefaultConversationsLimit : q.limit();
  if (limit > kMaxConversationsLimit) return RequestError{"bad_request", "limit must be 1..100"};
  if (q.has_before() && !isValidChannelName(q.before_channel())) {
    return RequestError{"bad_request", "invalid before.ch"};
  }
  return ConversationsRequest{
      ConversationQuery{std::move(*q.mutable_user()), limit, q.has_before(), q.before_ts(),
                        std::move(*q.mutable_before_channel())}};
}

HubRequest decodeDmNotice(wire::DmNotice& n, const ShardScope& scope) {
  if (auto error = checkInbox(scope, n.user())) return std::move(*error);
  const auto participants = dmParticipants(n.channel());
  if (!isValidChannelName(n.channel()) || !participants ||
      (participants->first != n.user() && participants->second != n.user())) {
    return RequestError{"bad_request", "not a dm of this user"};
  }
  if (n.seq() == 0 || n.from().empty() || n.from().find('\0') != std::string::npos) {
    return RequestError{"bad_request", "seq and from are required"};
  }
  PublishInput input = noticeInput(n.user(), n.channel(), n.seq(), n.from(), true);
  input.noticeTsMs = n.ts_ms();
  return PublishRequest{std::move(input)};
}

}  // namespace webim::hub
