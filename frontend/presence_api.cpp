// POST /api/online (docs/protocol.md section 5) with several shards: the app asks about users of
// every shard in one call, so the frontend splits the ids by the shard of their inbox, relays one
// {"op":"online"} to each of those hubs (all at once, shard_asks.h, under one hub_timeout_ms deadline)
// and merges the answers in the order asked. With one shard apiCall relays the body as it is.
#include "common/json_reader.h"
#include "common/json_writer.h"
#include "common/websocket_handshake.h"
#include "frontend/connection.h"
#include "frontend/frontend.h"
#include "frontend/http_api.h"
#include "frontend/shard_asks.h"

namespace webim {

namespace {

constexpr const char* kJsonType = "application/json";

// The "users" strings of a JSON object (nullopt: not an object with such an array of strings).
std::optional<std::vector<std::string>> usersOf(JsonObjectReader& reader, std::string_view json) {
  static constexpr std::array<std::string_view, 1> kExpand = {"users"};
  if (!reader.read(json, kExpand).ok()) return std::nullopt;
  std::span<const JsonMember> members = reader.members();
  size_t at = kJsonTopLevel;
  for (size_t i = 0; i < members.size(); ++i) {
    if (members[i].parent == kJsonTopLevel && members[i].key == "users" && members[i].value.type == JsonType::Array) at = i;
  }
  if (at == kJsonTopLevel) return std::nullopt;
  std::vector<std::string> users;
  for (size_t i = at + 1; i < members.size(); ++i) {
    if (members[i].parent != at) continue;
    if (members[i].value.type != JsonType::String) return std::nullopt;
    users.emplace_back(members[i].value.str);
  }
  return users;
}

}  // namespace

Task Connection::apiOnline(std::string body) {
  std::optional<std::vector<std::string>> users = usersOf(frontend().jsonReader(), body);
  if (!users || users->empty() || users->size() > kMaxOnlineUsers) {
    const bool tooMany = users && users->size() > kMaxOnlineUsers;
    std::string json = apiError(tooMany ? "too_large" : "bad_request", "users must name 1..500 user ids");
    finishHttp(httpResponse(tooMany ? 413 : 400, kJsonType, json));
    co_return;
  }
  const std::vector<std::string>& ids = *users;
  ShardAsks asks(ids.size(), [&](size_t i) -> HubLink& { return frontend().hubOfShard(frontend().shardOfUser(ids[i])); });
  for (size_t k = 0; k < asks.size(); ++k) {
    std::string json;
    JsonWriter writer(json);
    writer.beginObject().key("users").beginArray();
    for (size_t i : asks.items(k)) writer.string(ids[i]);
    writer.endArray().endObject();
    asks.request(k).mutable_app()->set_op("online");
    asks.request(k).mutable_app()->set_json(json);
  }
  asks.send(pending_, frontend().nowMs() + frontend().config().hubTimeoutMs);
  std::vector<std::string> answers(ids.size());  // each user's JSON object, raw
  for (size_t at = 0; at < asks.size(); ++at) {
    const std::vector<size_t>& positions = asks.items(at);
    HubCall& call = asks.call(at);  // named: g++ 12 copies an unnamed awaitable
    HubResult result = co_await call;
    if (result.status == WaitStatus::Cancelled) co_return;
    std::optional<std::string> answered = appReplyOrFinish(result, "a hub did not answer in time");
    if (!answered) co_return;
    const std::string& reply = *answered;
    static constexpr std::array<std::string_view, 1> kExpand = {"users"};
    JsonObjectReader& reader = frontend().jsonReader();
    if (!reader.read(reply, kExpand).ok()) break;
    size_t k = 0;
    std::span<const JsonMember> members = reader.members();
    for (size_t i = 0; i < members.size(); ++i) {
      if (members[i].parent == kJsonTopLevel || members[i].value.type != JsonType::Object) continue;
      if (members[i].key.empty() && k < positions.size()) answers[positions[k++]] = std::string(members[i].value.raw);
    }
  }
  std::string out = "{\"ok\":true,\"users\":[";
  for (size_t i = 0; i < answers.size(); ++i) {
    if (i != 0) out += ',';
    out += answers[i].empty() ? apiError("unavailable", "no answer") : answers[i];
  }
  out += "]}";
  finishHttp(httpResponse(200, kJsonType, out));
}

}  // namespace webim
