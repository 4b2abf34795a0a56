// The `online` presence query (docs/protocol.md "Presence"), frontend side: who of up to 500 user
// ids is online. Allowed only for ids matching the token's "presence" patterns (one that does not:
// forbidden for the whole request, revealing nothing). The ids are grouped by the shard of their
// inbox `user:<id>` (whose hub holds their presence: the inbox router), one OnlineQuery per shard,
// all asked at once (shard_asks.h) under one deadline (hub_timeout_ms for the whole query: a hub that does
// not answer in time makes it `unavailable`), and the answers merged in the request's order.
#include <algorithm>

#include "common/channel_rules.h"
#include "common/json_writer.h"
#include "common/presence_status.h"
#include "common/token.h"
#include "common/topics.h"
#include "frontend/connection.h"
#include "frontend/frontend.h"
#include "frontend/shard_asks.h"

namespace webim {

namespace {

bool presenceGranted(const std::vector<std::string>& patterns, std::string_view user) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& pattern) { return matchChannelPattern(pattern, user); });
}

}  // namespace

void Connection::handleOnline(const ClientRequest& request) {
  std::vector<std::string> users;
  users.reserve(request.users.size());
  std::string inbox;
  for (std::string_view user : request.users) {
    inbox.assign(kInboxPrefix).append(user);
    if (!isValidUserId(user) || !isValidChannelName(inbox)) {
      replyError(request, "bad_request", "invalid user id");
      return;
    }
    if (!presenceGranted(session_.grants->presence, user)) {
      replyError(request, "forbidden", "no presence grant for one of these users");
      countForbidden();
      return;
    }
    users.emplace_back(user);
  }
  queryOnline(request.id, std::move(users));
}

Task Connection::queryOnline(int64_t id, std::vector<std::string> users) {
  ShardAsks asks(users.size(), [&](size_t i) -> HubLink& { return frontend().hubOfShard(frontend().shardOfUser(users[i])); });
  for (size_t k = 0; k < asks.size(); ++k) {
    for (size_t i : asks.items(k)) asks.request(k).mutable_online()->add_users(users[i]);
  }
  asks.send(pending_, frontend().nowMs() + frontend().config().hubTimeoutMs);
  std::vector<const wire::OnlineState*> states(users.size(), nullptr);
  std::vector<wire::HubReply> replies;
  replies.reserve(asks.size());  // `states` points into them
  for (size_t k = 0; k < asks.size(); ++k) {
    const std::vector<size_t>& positions = asks.items(k);
    HubCall& call = asks.call(k);  // named: g++ 12 copies an unnamed awaitable
    HubResult result = co_await call;
    if (result.status == WaitStatus::Cancelled) co_return;
    if (!hubAnswered(id, result, "the hub did not answer in time")) co_return;
    replies.push_back(std::move(result.reply));
    const wire::OnlineReply& online = replies.back().online();
    if (static_cast<size_t>(online.users_size()) != positions.size()) {
      replyError(id, true, "unavailable", "the hub answered another question");
      co_return;
    }
    for (size_t k = 0; k < positions.size(); ++k) states[positions[k]] = &online.users(static_cast<int>(k));
  }
  std::string out;
  JsonWriter writer(out);
  writer.beginObject().key("op").string("ok").key("id").integer(id).key("users").beginArray();
  for (size_t i = 0; i < users.size(); ++i) {
    const wire::OnlineState& state = *states[i];
    writer.beginObject().key("user").string(users[i]);
    writePresenceStatus(writer, state.online(), state.settling(), state.last_seen_ms());
    writer.endObject();
  }
  writer.endArray().endObject();
  sendReply(out);
}

}  // namespace webim
