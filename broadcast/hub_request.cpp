#include "broadcast/hub_request.h"

#include "broadcast/online_query.h"

#include "common/channel_rules.h"
#include "common/client_request.h"
#include "common/topics.h"
#include "proto/webim.pb.h"

namespace webim::hub {

namespace {

RequestError badRequest(std::string message) { return {"bad_request", std::move(message)}; }

bool validSender(const std::string& from) {
  return !from.empty() && from.size() <= kMaxSenderBytes && from.find('\0') == std::string::npos;
}

// A bad name is bad_request even when it hashes to another shard.
std::optional<RequestError> checkChannel(const ShardScope& scope, const std::string& channel) {
  if (!isValidChannelName(channel)) return badRequest("invalid channel name");
  if (!scope.owns(channel)) return RequestError{"wrong_shard", scope.wrongShardMessage(channel)};
  return std::nullopt;
}

HubRequest decodePublish(wire::Publish& pub, const ShardScope& scope, size_t maxDataBytes) {
  if (auto error = checkChannel(scope, pub.channel())) return std::move(*error);
  if (!validSender(pub.from())) return badRequest("invalid from");
  if (pub.cid().size() > kMaxCidBytes) return badRequest("cid too long");
  if (pub.edit_of() != 0 && pub.delete_of() != 0) return badRequest("edit_of and delete_of both set");
  if (pub.delete_of() != 0) {
    if (!pub.data().empty()) return badRequest("a delete carries no data");
  } else if (pub.data().empty()) {
    return badRequest("data is required");
  }
  if (pub.data().size() > maxDataBytes) return RequestError{"too_large", "data too large"};
  return PublishRequest{{std::move(*pub.mutable_channel()), std::move(*pub.mutable_from()),
                         std::move(*pub.mutable_cid()), std::move(*pub.mutable_data()), pub.edit_of(), pub.delete_of()}};
}

HubRequest decodeHistory(const wire::History& h, const ShardScope& scope) {
  if (auto error = checkChannel(scope, h.channel())) return std::move(*error);
  if (h.before() != 0 && h.after() != 0) return badRequest("before and after both set");
  if (h.limit() > kMaxHistLimit) return badRequest("limit too large");
  return HistoryRequest{h.channel(), h.before(), h.after(), h.limit() == 0 ? kDefaultHistLimit : h.limit()};
}

HubRequest decodeSignal(wire::Signal& s, const ShardScope& scope, size_t maxDataBytes) {
  if (auto error = checkChannel(scope, s.channel())) return std::move(*error);
  if (s.from().empty()) return badRequest("from is required");
  if (s.data().size() > maxDataBytes) return RequestError{"too_large", "signal data over max_data_bytes"};
  return SignalRequest{std::move(*s.mutable_channel()), std::move(*s.mutable_from()), std::move(*s.mutable_data())};
}

// Read cursors (read_cursors.h): the channels must be this shard's; `user` is the token's subject.
HubRequest decodeRead(wire::ReadRequest& r, const ShardScope& scope) {
  if (auto error = checkChannel(scope, r.channel())) return std::move(*error);
  if (!validSender(r.user())) return badRequest("invalid user");
  return ReadCursorRequest{std::move(*r.mutable_channel()), std::move(*r.mutable_user()), r.seq()};
}

HubRequest decodeReadNotice(wire::ReadReceipt& r, const ShardScope& scope) {
  if (!validSender(r.user())) return badRequest("invalid user");
  if (auto error = checkChannel(scope, std::string(kInboxPrefix) + r.user())) return std::move(*error);
  if (!isValidChannelName(r.channel())) return badRequest("invalid channel name");
  return ReadNoticeRequest{std::move(*r.mutable_channel()), std::move(*r.mutable_user()), r.seq()};
}

HubRequest decodeUnread(wire::UnreadRequest& r, const ShardScope& scope) {
  if (!validSender(r.user())) return badRequest("invalid user");
  if (r.channels().empty()) return badRequest("no channels");
  if (static_cast<size_t>(r.channels().size()) > kMaxUnreadChannels) return RequestError{"too_large", "over 500 channels"};
  UnreadRequest out;
  out.user = std::move(*r.mutable_user());
  out.channels.reserve(static_cast<size_t>(r.channels().size()));
  for (std::string& channel : *r.mutable_channels()) {
    if (auto error = checkChannel(scope, channel)) return std::move(*error);
    out.channels.push_back(std::move(channel));
  }
  return out;
}

HubRequest decodeKick(wire::Kick& kick) {
  if (kick.user().empty()) return badRequest("user is required");
  if (kick.code() < 4000 || kick.code() > 4999) return badRequest("code must be 4000..4999");
  if (kick.reason().size() > kMaxKickReasonBytes) return badRequest("reason is too long");
  return KickRequest{std::move(*kick.mutable_user()), kick.code(), std::move(*kick.mutable_reason())};
}

HubRequest decodeAttach(wire::Attach& attach, const ShardScope& scope) {
  if (attach.frontend_id().empty()) return badRequest("frontend_id is required");
  std::string inbox;
  for (const std::string& user : attach.users()) {
    inbox.assign(kInboxPrefix).append(user);
    if (!isValidChannelName(inbox)) return badRequest("invalid user id");
    if (!scope.owns(inbox)) return RequestError{"wrong_shard", scope.wrongShardMessage(inbox)};
  }
  AttachRequest out{std::move(*attach.mutable_frontend_id()), attach.boot_id(), {}, attach.synced()};
  out.users.reserve(static_cast<size_t>(attach.users_size()));
  for (std::string& user : *attach.mutable_users()) out.users.push_back(std::move(user));
  return out;
}

HubRequest decodeDetach(wire::Detach& detach) {
  DetachRequest out{std::move(*detach.mutable_frontend_id()), detach.boot_id(), {}};
  out.users.reserve(static_cast<size_t>(detach.users_size()));
  for (std::string& user : *detach.mutable_users()) out.users.push_back(std::move(user));
  return out;
}

}  // namespace

bool ShardScope::owns(std::string_view channel) const {
  return !slotMap || slotMap->shardOf(channel) == index;
}

std::string ShardScope::wrongShardMessage(std::string_view channel) const {
  return "channel " + std::string(channel) + " (slot " + std::to_string(slotOf(channel)) + ") belongs to shard " +
         slotMap->shards()[slotMap->shardOf(channel)].name + ", not " + name;
}

namespace {

google::protobuf::ArenaOptions arenaOptions(char* block, size_t size) {
  google::protobuf::ArenaOptions options;
  options.initial_block = block;
  options.initial_block_size = size;
  return options;
}

}  // namespace

HubRequestDecoder::HubRequestDecoder(size_t maxDataBytes, size_t maxRequestBytes, ShardScope scope)
    : arenaBlock_(std::make_unique<char[]>(kArenaBlockBytes)),
      arena_(std::make_unique<google::protobuf::Arena>(arenaOptions(arenaBlock_.get(), kArenaBlockBytes))),
      app_(maxDataBytes), maxDataBytes_(maxDataBytes), maxRequestBytes_(maxRequestBytes), scope_(std::move(scope)) {}

RequestError HubRequestDecoder::tooLarge(size_t bytes) const {
  return {"too_large", "request of " + std::to_string(bytes) + " bytes; this hub answers at most " +
                           std::to_string(maxRequestBytes_)};
}

HubRequest HubRequestDecoder::decodeApp(std::string_view body, std::string_view impliedOp) {
  if (body.size() > maxRequestBytes_) return tooLarge(body.size());
  AppRequest request;
  if (AppDecodeError error = app_.decode(body, request, impliedOp); !error.ok()) {
    return RequestError{std::move(error.code), std::move(error.message)};
  }
  if (auto* pub = std::get_if<AppPublish>(&request)) {
    if (!scope_.owns(pub->channel)) return RequestError{"wrong_shard", scope_.wrongShardMessage(pub->channel)};
    return PublishRequest{{std::move(pub->channel), std::move(pub->from), std::move(pub->cid), std::move(pub->data),
                           pub->editOf, pub->deleteOf}};
  }
  if (auto* hist = std::get_if<AppHistory>(&request)) {
    if (!scope_.owns(hist->channel)) return RequestError{"wrong_shard", scope_.wrongShardMessage(hist->channel)};
    return HistoryRequest{std::move(hist->channel), hist->before, hist->after, hist->limit};
  }
  if (auto* online = std::get_if<AppOnline>(&request)) return checkOnlineUsers(std::move(online->users), scope_);
  if (auto* presence = std::get_if<AppPresence>(&request)) {
    if (!scope_.owns(presence->channel)) return RequestError{"wrong_shard", scope_.wrongShardMessage(presence->channel)};
    return PresenceQueryRequest{std::move(presence->channel), presence->statsOnly, std::move(presence->after),
                                presence->limit};
  }
  if (auto* kick = std::get_if<AppKick>(&request)) {
    return KickRequest{std::move(kick->user), kick->code, std::move(kick->reason)};
  }
  if (auto* read = std::get_if<AppRead>(&request)) {
    if (!scope_.owns(read->channel)) return RequestError{"wrong_shard", scope_.wrongShardMessage(read->channel)};
    return ReadCursorRequest{std::move(read->channel), std::move(read->user), read->seq};
  }
  if (auto* unread = std::get_if<AppUnread>(&request)) {
    for (const std::string& channel : unread->channels) {
      if (!scope_.owns(channel)) return RequestError{"wrong_shard", scope_.wrongShardMessage(channel)};
    }
    UnreadRequest out;
    out.user = std::move(unread->user);
    out.channels = std::move(unread->channels);
    return out;
  }
  if (auto* erase = std::get_if<AppEraseUser>(&request)) return EraseUserRequest{std::move(erase->user)};
  if (auto* status = std::get_if<AppEraseStatus>(&request)) return EraseStatusRequest{std::move(status->user)};
  return StatsRequest{};
}

DecodedRequest HubRequestDecoder::decodeFrontend(std::string_view body) {
  arena_->Reset();  // the previous request's objects: everything decoded from them was moved out
  wire::FrontendRequest& request = *google::protobuf::Arena::CreateMessage<wire::FrontendRequest>(arena_.get());
  if (!request.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return {badRequest("not a FrontendRequest")};
  }
  DecodedRequest out{RequestError{}, ReplyForm::Frontend, request.req_id()};
  if (body.size() > maxRequestBytes_) {
    out.request = tooLarge(body.size());
    return out;
  }
  switch (request.body_case()) {
    case wire::FrontendRequest::kPublish:
      out.request = decodePublish(*request.mutable_publish(), scope_, maxDataBytes_);
      break;
    case wire::FrontendRequest::kHistory:
      out.request = decodeHistory(request.history(), scope_);
      break;
    case wire::FrontendRequest::kHello:
      if (request.hello().frontend_id().empty()) {
        out.request = badRequest("frontend_id is required");
      } else {
        out.request = HelloRequest{std::move(*request.mutable_hello()->mutable_frontend_id()), request.hello().boot_id()};
      }
      break;
    case wire::FrontendRequest::kKick:
      out.request = decodeKick(*request.mutable_kick());
      break;
    case wire::FrontendRequest::kRevocations:
      out.request = RevocationsRequest{request.revocations().since_ms()};
      break;
    case wire::FrontendRequest::kAttach:
      out.request = decodeAttach(*request.mutable_attach(), scope_);
      break;
    case wire::FrontendRequest::kDetach:
      out.request = decodeDetach(*request.mutable_detach());
      break;
    case wire::FrontendRequest::kSignal:
      out.request = decodeSignal(*request.mutable_signal(), scope_, maxDataBytes_);
      break;
    case wire::FrontendRequest::kRead:
      out.request = decodeRead(*request.mutable_read(), scope_);
      break;
    case wire::FrontendRequest::kReadNotice:
      out.request = decodeReadNotice(*request.mutable_read_notice(), scope_);
      break;
    case wire::FrontendRequest::kUnread:
      out.request = decodeUnread(*request.mutable_unread(), scope_);
      break;
    case wire::FrontendRequest::kOnline:
      out.request = decodeOnlineQuery(*request.mutable_online(), scope_);
      break;
    case wire::FrontendRequest::kWatch:
      out.request = decodeWatchUsers(*request.mutable_watch(), scope_);
      break;
    case wire::FrontendRequest::kChannelPresenceUpdate:
      out.request = decodePresenceUpdate(*request.mutable_channel_presence_update(), scope_);
      break;
    case wire::FrontendRequest::kChannelPresenceQuery:
      out.request = decodePresenceQuery(*request.mutable_channel_presence_query(), scope_);
      break;
    case wire::FrontendRequest::kConversationTouch:
      out.request = decodeConversationTouch(*request.mutable_conversation_touch(), scope_);
      break;
    case wire::FrontendRequest::kConversations:
      out.request = decodeConversations(*request.mutable_conversations(), scope_);
      break;
    case wire::FrontendRequest::kDmNotice:
      out.request = decodeDmNotice(*request.mutable_dm_notice(), scope_);
      break;
    case wire::FrontendRequest::kApp:
      out.form = ReplyForm::AppViaFrontend;
      out.request = decodeApp(request.app().json(), request.app().op());
      break;
    default:
      out.request = badRequest("empty request");
      break;
  }
  return out;
}

}  // namespace webim::hub
