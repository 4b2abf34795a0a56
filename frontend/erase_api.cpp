// POST /api/erase_user and /api/erase_status (docs/protocol.md "Erasing a user") with several
// shards: each hub erases the channels it owns, so the frontend relays the request to every hub (all at
// once through ShardAsks, under one hub_timeout_ms deadline) and merges the answers as the PHP library's
// Hub::eraseStatus() does: `state` "running" while any hub runs, else "done" if any is done, else
// "none"; `erased` and `remaining` summed. The first hub to refuse (bad_request, ...) answers for all.
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

struct EraseSum {
  std::string user;
  bool running = false, done = false, hasRemaining = false;
  uint64_t erased = 0, remaining = 0;

  // Adds one hub's {"ok":true,"user","state","erased","remaining"?}.
  void add(JsonObjectReader& reader, std::string_view reply) {
    if (!reader.read(reply).ok()) return;
    for (const JsonMember& m : reader.members()) {
      if (m.parent != kJsonTopLevel) continue;
      if (m.key == "user" && m.value.type == JsonType::String) user = std::string(m.value.str);
      if (m.key == "state" && m.value.type == JsonType::String) {
        running = running || m.value.str == "running";
        done = done || m.value.str == "done";
      }
      uint64_t n = 0;
      if (m.key == "erased" && m.value.getUnsigned(n)) erased += n;
      if (m.key == "remaining" && m.value.getUnsigned(n)) {
        remaining += n;
        hasRemaining = true;
      }
    }
  }

  std::string json() const {
    std::string out;
    JsonWriter w(out);
    w.beginObject().key("ok").boolean(true).key("user").string(user);
    w.key("state").string(running ? "running" : done ? "done" : "none");
    w.key("erased").uinteger(erased);
    if (hasRemaining) w.key("remaining").uinteger(remaining);
    w.endObject();
    return out;
  }
};

}  // namespace

Task Connection::apiEraseEveryHub(std::string op, std::string body) {
  ShardAsks asks(frontend().shardCount(), [&](size_t shard) -> HubLink& { return frontend().hubOfShard(shard); });
  for (size_t k = 0; k < asks.size(); ++k) {
    asks.request(k).mutable_app()->set_op(op);
    asks.request(k).mutable_app()->set_json(body);
  }
  asks.send(pending_, frontend().nowMs() + frontend().config().hubTimeoutMs);
  EraseSum sum;
  for (size_t k = 0; k < asks.size(); ++k) {
    HubCall& call = asks.call(k);
    HubResult result = co_await call;
    if (result.status == WaitStatus::Cancelled) co_return;
    std::optional<std::string> reply = appReplyOrFinish(result, "a hub did not answer in time; ask again");
    if (!reply) co_return;
    sum.add(frontend().jsonReader(), *reply);
  }
  finishHttp(httpResponse(200, kJsonType, sum.json()));
}

}  // namespace webim
