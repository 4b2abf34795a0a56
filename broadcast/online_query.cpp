// Decoding the `online` presence query (online_query.h).
#include "broadcast/online_query.h"

#include "common/channel_rules.h"
#include "common/client_request.h"
#include "common/topics.h"

namespace webim::hub {

HubRequest checkOnlineUsers(std::vector<std::string> users, const ShardScope& scope) {
  if (users.empty()) return RequestError{"bad_request", "users must name 1..500 user ids"};
  if (users.size() > kMaxOnlineUsers) return RequestError{"too_large", "users must name 1..500 user ids"};
  std::string inbox;
  for (const std::string& user : users) {
    inbox.assign(kInboxPrefix).append(user);
    if (!isValidChannelName(inbox)) return RequestError{"bad_request", "invalid user id"};
    if (!scope.owns(inbox)) return RequestError{"wrong_shard", scope.wrongShardMessage(inbox)};
  }
  return OnlineRequest{std::move(users)};
}

HubRequest decodeOnlineQuery(wire::OnlineQuery& query, const ShardScope& scope) {
  std::vector<std::string> users;
  users.reserve(static_cast<size_t>(query.users_size()));
  for (std::string& user : *query.mutable_users()) users.push_back(std::move(user));
  return checkOnlineUsers(std::move(users), scope);
}

HubRequest decodeWatchUsers(wire::WatchUsers& watch, const ShardScope& scope) {
  if (watch.frontend_id().empty()) return RequestError{"bad_request", "frontend_id is required"};
  if (!watch.unwatch() && static_cast<size_t>(watch.users_size()) > kMaxWatchUsersPerRequest) {
    return RequestError{"too_large", "too many users in one watch"};
  }
  std::string inbox;
  for (const std::string& user : watch.users()) {
    inbox.assign(kInboxPrefix).append(user);
    if (!isValidChannelName(inbox)) return RequestError{"bad_request", "invalid user id"};
    if (!scope.owns(inbox)) return RequestError{"wrong_shard", scope.wrongShardMessage(inbox)};
  }
  WatchRequest out{std::move(*watch.mutable_frontend_id()), watch.boot_id(), {}, watch.unwatch()};
  out.users.reserve(static_cast<size_t>(watch.users_size()));
  for (std::string& user : *watch.mutable_users()) out.users.push_back(std::move(user));
  return out;
}

}  // namespace webim::hub
