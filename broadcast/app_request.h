// App ingress requests (docs/protocol.md section 4): one JSON object per ZeroMQ frame from the PHP app
// or operator tools, answered with one JSON object. Pure: no ZeroMQ, no store.
//
//   {"op":"pub","ch":C,"data":<any JSON>,"from":"system","cid":"..."}  from, cid optional
//   {"op":"hist","ch":C,"before"|"after":S,"limit":L}                  limit 1..200, default 50
//   {"op":"kick","user":U,"code":4003,"reason":"..."}                  code 4000..4999, reason <= 123 bytes
//   {"op":"edit","ch":C,"seq":S,"data":<any JSON>,"from":..,"cid":..}  edit message S (any author)
//   {"op":"delete","ch":C,"seq":S,"from":..,"cid":..}                  delete message S (any author)
//   {"op":"erase_user","user":U}, {"op":"erase_status","user":U}       erase_job.h
//   {"op":"stats"}
//   {"op":"read","user":U,"ch":C,"seq":S}                             read cursors (read_cursors.h)
//   {"op":"unread","user":U,"chs":[C,...]}                             1..500 channels of this shard
//   {"op":"online","users":["7","9"]}                                   1..500 user ids
//   {"op":"presence","ch":C,"after":U,"limit":L}                      after optional, limit 1..1000, default 100
//   {"op":"presence_stats","ch":C}
//   {"op":"conversations","user":U,"limit":L,"before":{"ts":T,"ch":C}}  a page of U's (app_conversations.cpp)
// Anything else is bad_request. `data` is kept byte for byte.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "broadcast/history_store.h"
#include "common/json_reader.h"

namespace webim::hub {

inline constexpr std::string_view kDefaultAppSender = "system";
inline constexpr size_t kMaxSenderBytes = 128;

struct AppPublish {
  std::string channel;
  std::string from;
  std::string cid;   // empty when the app sent none (the publish is then not idempotent)
  std::string data;  // raw JSON bytes exactly as sent (surrounding whitespace trimmed); empty for a delete
  uint64_t editOf = 0;    // op edit: the seq edited
  uint64_t deleteOf = 0;  // op delete: the seq deleted
};

struct AppHistory {
  std::string channel;
  uint64_t before = 0;  // 0 = absent
  uint64_t after = 0;
  uint32_t limit = 0;
};

struct AppStats {};

struct AppKick {
  std::string user;
  uint32_t code = 4003;
  std::string reason;
};

inline constexpr size_t kMaxKickReasonBytes = 123;  // what fits a close frame

// `read` / `unread` on behalf of a user (the app is trusted: no grant check).
struct AppRead {
  std::string user;
  std::string channel;
  uint64_t seq = 0;
};

struct AppUnread {
  std::string user;
  std::vector<std::string> channels;
};

// {"op":"online","users":[...]}: user presence (docs/protocol.md "Presence"); 1..500 ids, checked
// by the hub (online_query.h).
struct AppOnline {
  std::vector<std::string> users;
};

// Channel presence (docs/protocol.md "Channel presence"): a page of members, or the counts only.
struct AppPresence {
  std::string channel;
  bool statsOnly = false;
  std::string after;
  uint32_t limit = 0;
};

// Erasing a user (erase_job.h): start the job / report its progress.
struct AppEraseUser {
  std::string user;
};
struct AppEraseStatus {
  std::string user;
};

struct AppConversations {
  ConversationQuery query;
};

using AppRequest = std::variant<AppPublish, AppHistory, AppStats, AppKick, AppRead, AppUnread, AppOnline,
                                AppPresence, AppEraseUser, AppEraseStatus, AppConversations>;

struct AppDecodeError {
  std::string code;  // "" on success, else a docs/protocol.md error code (bad_request, too_large)
  std::string message;
  bool ok() const { return code.empty(); }
};

// Conversations (app_conversations.cpp).
AppDecodeError decodeAppConversations(std::span<const JsonMember> members, AppRequest& out);
std::string encodeConversationsOk(const ConversationPage& page);

class AppRequestDecoder {
 public:
  explicit AppRequestDecoder(size_t maxDataBytes);
  ~AppRequestDecoder();
  AppRequestDecoder(const AppRequestDecoder&) = delete;
  AppRequestDecoder& operator=(const AppRequestDecoder&) = delete;

  // Validates the whole frame as JSON (JsonObjectReader: one simdjson On-Demand pass, UTF-8 and
  // numbers of any size included), then the fields.
  // A known field given twice is bad_request; unknown fields are ignored; null = absent.
  // impliedOp: the op named by an HTTP API path; the body may omit "op" or must name the same one.
  AppDecodeError decode(std::string_view frame, AppRequest& out, std::string_view impliedOp = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  size_t maxDataBytes_;
};

// Counters reported by {"op":"stats"}.
struct HubStats {
  uint64_t channels = 0;        // channels with a meta record
  uint64_t published = 0;       // messages sequenced, stored and published since start
  uint64_t duplicates = 0;      // publishes answered from a dedup record
  uint64_t frontends = 0;       // frontends heard from within the frontend timeout
  uint64_t uptimeS = 0;
  uint64_t commits = 0;         // successful group commits
  uint64_t commitFailures = 0;
  uint64_t subscribedTopics = 0;  // topics with at least one subscriber on the XPUB
  uint64_t subscribes = 0;
  uint64_t unsubscribes = 0;
  uint64_t appRequests = 0;
  uint64_t frontendRequests = 0;
  uint64_t badRequests = 0;
  uint64_t kicks = 0;
  uint64_t syncsDeferred = 0;   // periodic syncs retried later because a frontend's pipe was full
  uint64_t inboxUsers = 0;      // users whose inbox is routed to at least one frontend
  uint64_t watchedUsers = 0;    // users of this shard some frontend watches (the watchlist)
  uint64_t channelsInMemory = 0;  // channels the hub holds in memory (the idle ones leave)
  uint64_t authAdmitted = 0;    // CURVE handshakes admitted by the ZAP handler
  uint64_t authRefused = 0;     // ... and refused (key not in the socket's allow-list)
  uint64_t signals = 0;         // signals published (never stored)
  uint64_t reads = 0;           // read requests answered (read_cursors.h)
  uint64_t unreads = 0;         // unread requests answered (also the cursors of sub replies)
  uint64_t cursorsWritten = 0;  // read cursor records committed (many reads of a key in a batch: one)
  uint64_t receipts = 0;        // read receipts published
  uint64_t dmNotices = 0;       // dm notices stored in this hub's inboxes
  uint64_t outboxWritten = 0;   // dm notices for other shards put into the outbox
  uint64_t outboxDelivered = 0; // ... acknowledged by their hub
};

std::string encodeAppError(std::string_view code, std::string_view message);
std::string encodePublishOk(uint64_t epoch, uint64_t seq);
std::string encodeHistoryOk(const HistoryPage& page);
std::string encodeStatsOk(const HubStats& stats);
std::string encodeAppOk();  // {"ok":true}
// True when `reply` is an app-ingress reply saying {"ok":false,...}: a top-level "ok" that is
// false, or a reply that is not a JSON object at all (never answered by a hub).
bool isAppRefusal(std::string_view reply);
// One delivery object {"op":"msg",...} (docs/protocol.md section 1), appended to out.
void appendDeliveryJson(std::string& out, const StoredMessage& msg);

}  // namespace webim::hub
