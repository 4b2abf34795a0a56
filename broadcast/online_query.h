// The `online` presence query (docs/protocol.md "Presence"), hub side: decoding a frontend's
// OnlineQuery (pure). Answered from the inbox router (Hub::answer, hub_presence.cpp).
#pragma once

#include "broadcast/hub_request.h"
#include "proto/webim.pb.h"

namespace webim::hub {

// Every user must be a valid user id whose inbox `user:<id>` this shard owns (else bad_request /
// wrong_shard); 1..kMaxOnlineUsers of them.
HubRequest decodeOnlineQuery(wire::OnlineQuery& query, const ShardScope& scope);
// The same checks for the app's {"op":"online"} (app_request.h).
HubRequest checkOnlineUsers(std::vector<std::string> users, const ShardScope& scope);
// A watch names 0..kMaxWatchUsersPerRequest users of this shard (an unwatch any number).
inline constexpr size_t kMaxWatchUsersPerRequest = 8192;
HubRequest decodeWatchUsers(wire::WatchUsers& watch, const ShardScope& scope);

}  // namespace webim::hub
