// Decoding the channel presence requests of the frontends (presence_request.h).
#include "broadcast/hub_request.h"
#include "common/channel_rules.h"
#include "proto/webim.pb.h"

namespace webim::hub {

namespace {

std::optional<RequestError> checkPresenceChannel(const ShardScope& scope, const std::string& channel) {
  if (!isValidChannelName(channel)) return RequestError{"bad_request", "invalid channel name"};
  if (!scope.owns(channel)) return RequestError{"wrong_shard", scope.wrongShardMessage(channel)};
  return std::nullopt;
}

}  // namespace

HubRequest decodePresenceUpdate(wire::ChannelPresenceUpdate& update, const ShardScope& scope) {
  if (update.frontend_id().empty()) return RequestError{"bad_request", "frontend_id is required"};
  PresenceUpdateRequest out{std::move(*update.mutable_frontend_id()), update.boot_id(), {}};
  out.channels.reserve(static_cast<size_t>(update.channels_size()));
  for (wire::ChannelPresenceChange& change : *update.mutable_channels()) {
    if (auto error = checkPresenceChannel(scope, change.channel())) return std::move(*error);
    PresenceUpdateRequest::Change& c = out.channels.emplace_back();
    c.channel = std::move(*change.mutable_channel());
    c.connections = change.connections();
    for (std::string& user : *change.mutable_join()) c.join.push_back(std::move(user));
    for (std::string& user : *change.mutable_leave()) c.leave.push_back(std::move(user));
  }
  return out;
}

HubRequest decodePresenceQuery(wire::ChannelPresenceQuery& query, const ShardScope& scope) {
  if (auto error = checkPresenceChannel(scope, query.channel())) return std::move(*error);
  if (query.limit() > kMaxPresenceLimit) return RequestError{"bad_request", "limit must be 1..1000"};
  return PresenceQueryRequest{std::move(*query.mutable_channel()), query.stats_only(),
                              std::move(*query.mutable_after()), query.limit() == 0 ? kDefaultPresenceLimit : query.limit()};
}

}  // namespace webim::hub
