// The requests the hub serves, decoded from both ingresses into one variant: the app ingress's
// JSON (docs/protocol.md section 4, via AppRequestDecoder) and the frontends' FrontendRequest
// (proto/webim.proto), including the app calls frontends relay for their HTTP API.
//
// Decoding is the first of the loop's three steps (decode; sequence and commit; reply and
// publish) and is pure: it validates the fields and the shard a channel belongs to, and touches
// no socket, store or registry. A request that fails decoding is a RequestError carrying the
// docs/protocol.md error code its client gets. Payload strings are moved out of the parsed
// message, never copied.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <google/protobuf/arena.h>

#include "broadcast/app_request.h"
#include "broadcast/conversation_request.h"
#include "broadcast/read_cursors.h"
#include "broadcast/presence_request.h"
#include "broadcast/sequencer.h"
#include "common/slot_map.h"

namespace webim::hub {

// A request answered with an error and nothing else (code: a docs/protocol.md error code).
struct RequestError {
  std::string code;
  std::string message;
};

struct PublishRequest {
  PublishInput input;
};

// One history page of `channel` (before/after: exclusive seq bounds, 0 = absent; limit >= 1).
struct HistoryRequest {
  std::string channel;
  uint64_t before = 0;
  uint64_t after = 0;
  uint32_t limit = 0;
};

struct StatsRequest {};

struct KickRequest {
  std::string user;
  uint32_t code = 0;  // 4000..4999
  std::string reason;
};

// Hello, attach and detach name the frontend (`--id`) and its process (boot id).
struct HelloRequest {
  std::string frontendId;
  uint64_t boot = 0;
};

struct AttachRequest {
  std::string frontendId;
  uint64_t boot = 0;
  std::vector<std::string> users;  // each one's inbox is a valid channel this shard owns
  bool synced = false;             // presence settling: every user the frontend holds is sent (wire::Attach)
};

struct DetachRequest {
  std::string frontendId;
  uint64_t boot = 0;
  std::vector<std::string> users;
};

struct RevocationsRequest {
  int64_t sinceMs = 0;
};

// An ephemeral publish (wire::Signal): published at once, never stored or answered.
struct SignalRequest {
  std::string channel;
  std::string from;
  std::string data;
};

// The `online` presence query (online_query.h): users whose inboxes this shard owns.
struct OnlineRequest {
  std::vector<std::string> users;
};

// The watchlist (wire::WatchUsers): a frontend's watched users whose inboxes this shard owns.
struct WatchRequest {
  std::string frontendId;
  uint64_t boot = 0;
  std::vector<std::string> users;
  bool unwatch = false;
};

// Erasing a user (erase_job.h), from the app only.
struct EraseUserRequest {
  std::string user;
};
struct EraseStatusRequest {
  std::string user;
};

using HubRequest = std::variant<RequestError, PublishRequest, HistoryRequest, StatsRequest, KickRequest,
                                HelloRequest, AttachRequest, DetachRequest, RevocationsRequest, SignalRequest,
                                ReadCursorRequest, UnreadRequest, ReadNoticeRequest,
                                OnlineRequest, WatchRequest,
                                PresenceUpdateRequest, PresenceQueryRequest,
                                EraseUserRequest, EraseStatusRequest,
                                ConversationTouchRequest, ConversationsRequest>;

// An edit or delete entry (a PublishRequest naming a seq; message_edits.h). hub_edits.cpp.
bool isEditOrDelete(const HubRequest& request);

// How a request is answered: a HubReply to a frontend, app JSON on the app ingress, or app JSON
// inside a HubReply (an app call a frontend relayed).
enum class ReplyForm { Frontend, App, AppViaFrontend };

struct DecodedRequest {
  HubRequest request;
  ReplyForm form = ReplyForm::Frontend;
  uint64_t reqId = 0;  // frontend requests: echoed in the reply; 0 = no reply wanted
};

// Which channels this hub writes (docs/architecture.md "Shards"): all of them without a slot map.
struct ShardScope {
  std::shared_ptr<const SlotMap> slotMap;  // null: one hub owns every channel
  size_t index = 0;                        // this hub's shard in slotMap
  std::string name;                        // ... and its name

  bool owns(std::string_view channel) const;
  // The `wrong_shard` message for a channel this hub does not own.
  std::string wrongShardMessage(std::string_view channel) const;
};

// proto -> request, checking the channels (hub_request_presence.cpp); strings are moved out.
HubRequest decodePresenceUpdate(wire::ChannelPresenceUpdate& update, const ShardScope& scope);
HubRequest decodePresenceQuery(wire::ChannelPresenceQuery& query, const ShardScope& scope);
// Conversations (conversation_request.cpp): the user's inbox must be this shard's.
HubRequest decodeConversationTouch(wire::ConversationTouch& touch, const ShardScope& scope);
HubRequest decodeConversations(wire::ConversationsQuery& query, const ShardScope& scope);
HubRequest decodeDmNotice(wire::DmNotice& notice, const ShardScope& scope);  // a peer hub's outbox

class HubRequestDecoder {
 public:
  // maxDataBytes: the largest publish `data`; maxRequestBytes: the largest request answered
  // (larger ones are too_large).
  HubRequestDecoder(size_t maxDataBytes, size_t maxRequestBytes, ShardScope scope);

  // One app-ingress frame. impliedOp: the op named by an HTTP API path (AppCall.op).
  HubRequest decodeApp(std::string_view body, std::string_view impliedOp = {});
  // One FrontendRequest (hub ingress). An AppCall is decoded as decodeApp would, answered in the
  // form AppViaFrontend.
  DecodedRequest decodeFrontend(std::string_view body);

  const ShardScope& scope() const noexcept { return scope_; }
  size_t maxRequestBytes() const noexcept { return maxRequestBytes_; }

 private:
  RequestError tooLarge(size_t bytes) const;

  // Each FrontendRequest is parsed on this arena, reset before the next one: its message and
  // string objects cost no allocation of their own (what is decoded is moved out of them first).
  // A publish fits in the first block, which is kept across resets (larger requests add blocks
  // that the next reset frees).
  static constexpr size_t kArenaBlockBytes = 2048;
  std::unique_ptr<char[]> arenaBlock_;
  std::unique_ptr<google::protobuf::Arena> arena_;
  AppRequestDecoder app_;
  size_t maxDataBytes_;
  size_t maxRequestBytes_;
  ShardScope scope_;
};

}  // namespace webim::hub
