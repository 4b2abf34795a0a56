// The HTTP API's relay of app requests to the hubs (docs/protocol.md section 5): most go as they
// are to one hub (the channel's, else any: kick and stats); unread, online and erase_* split or
// fan out over the shards (read_requests.cpp, presence_api.cpp, erase_api.cpp), which read the
// hubs' answers through appReplyOrFinish like apiCall does.
#include "common/json_reader.h"
#include "common/websocket_handshake.h"
#include "frontend/connection.h"
#include "frontend/frontend.h"
#include "frontend/http_api.h"

namespace webim {

namespace {
constexpr const char* kJson = "application/json";
}  // namespace

Task Connection::apiCall(std::string op, std::string body) {
  if (op == "unread") {  // channels of every shard: one request per shard, merged (read_requests.cpp)
    apiUnread(body);
    co_return;
  }
  if (op == "conversations") co_return apiConversations(body);  // conversations.cpp
  if (op == "online" && frontend().shardCount() > 1) {  // users of every shard: split and merged
    apiOnline(std::move(body));
    co_return;
  }
  if ((op == "erase_user" || op == "erase_status") && frontend().shardCount() > 1) {  // every hub erases its own
    apiEraseEveryHub(std::move(op), std::move(body));
    co_return;
  }
  wire::FrontendRequest request;
  request.mutable_app()->set_op(std::move(op));
  request.mutable_app()->set_json(std::move(body));
  // pub, hist and read go to the hub owning their channel; kick and stats to any hub (a kick is
  // published to every frontend by whichever hub takes it).
  HubLink* hub = &frontend().anyHub();
  JsonObjectReader& reader = frontend().jsonReader();
  if (reader.read(request.app().json()).ok()) {
    for (const JsonMember& m : reader.members()) {
      if (m.parent == kJsonTopLevel && m.key == "ch" && m.value.type == JsonType::String) {
        hub = &frontend().hubFor(m.value.str);
      }
    }
  }
  HubCall call(*hub, pending_, request, frontend().nowMs() + frontend().config().hubTimeoutMs);
  HubResult result = co_await call;
  if (result.status == WaitStatus::Cancelled) co_return;
  if (std::optional<std::string> json = appReplyOrFinish(result, "the hub did not answer in time; retry with the same cid")) {
    finishHttp(httpResponse(200, kJson, *json));
  }
}

// A hub's answer to a relayed AppCall (not Cancelled): its JSON when it says ok; else the HTTP
// response is finished here (503 `unavailable` with `noAnswer` when none came in time, else the
// hub's error with its status) and nullopt.
std::optional<std::string> Connection::appReplyOrFinish(const HubResult& result, std::string_view noAnswer) {
  if (result.status != WaitStatus::Done) {
    finishHttp(httpResponse(503, kJson, apiError("unavailable", noAnswer)));
    return std::nullopt;
  }
  std::string reply = result.reply.has_error() ? apiError(result.reply.error().code(), result.reply.error().message())
                                               : result.reply.app_json();
  const int status = apiStatusForReply(frontend().jsonReader(), reply);
  if (status == 200) return reply;
  finishHttp(httpResponse(status, kJson, reply));
  return std::nullopt;
}

}  // namespace webim
