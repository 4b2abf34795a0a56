#include "broadcast/app_request.h"

#include <array>
#include "broadcast/erase_job.h"

#include <optional>
#include <span>

#include "common/channel_rules.h"
#include "common/client_request.h"
#include "common/epoch.h"
#include "common/json_reader.h"
#include "common/json_writer.h"

namespace webim::hub {

namespace {

AppDecodeError badRequest(std::string message) { return {"bad_request", std::move(message)}; }

// The fields this decoder reads; each may appear at most once. nullptr = absent. The values point
// into the reader's member list (valid until its next read()).
struct Fields {
  const JsonValue *op = nullptr, *ch = nullptr, *data = nullptr, *from = nullptr, *cid = nullptr,
                  *before = nullptr, *after = nullptr, *limit = nullptr, *user = nullptr, *code = nullptr,
                  *reason = nullptr, *seq = nullptr, *chs = nullptr, *users = nullptr;
  size_t chsIndex = kJsonTopLevel;  // index of "chs" in the reader's members()
  size_t usersIndex = kJsonTopLevel;  // the member holding "users" (its elements follow it)
};

const JsonValue** fieldSlot(Fields& f, std::string_view key) {
  if (key == "op") return &f.op;
  if (key == "ch") return &f.ch;
  if (key == "data") return &f.data;
  if (key == "from") return &f.from;
  if (key == "cid") return &f.cid;
  if (key == "before") return &f.before;
  if (key == "after") return &f.after;
  if (key == "limit") return &f.limit;
  if (key == "user") return &f.user;
  if (key == "code") return &f.code;
  if (key == "reason") return &f.reason;
  if (key == "seq") return &f.seq;
  if (key == "chs") return &f.chs;
  if (key == "users") return &f.users;
  return nullptr;
}

bool present(const JsonValue* v) { return v != nullptr && v->type != JsonType::Null; }

// The top-level members into their fields (the elements of "users" follow it, not top-level).
AppDecodeError collectFields(std::span<const JsonMember> members, Fields& f) {
  for (size_t i = 0; i < members.size(); ++i) {
    const JsonMember& m = members[i];
    if (m.parent != kJsonTopLevel) continue;
    const JsonValue** slot = fieldSlot(f, m.key);
    if (!slot) continue;  // unknown fields are ignored (forward compatibility)
    if (*slot) return badRequest("duplicate field " + std::string(m.key));
    *slot = &m.value;
    if (slot == &f.users) f.usersIndex = i;
    if (slot == &f.chs) f.chsIndex = i;
  }
  return {};
}

// {"op":"online","users":[...]}: 1..500 strings (the hub checks them as user ids of its shard).
AppDecodeError decodeOnline(std::span<const JsonMember> members, const Fields& f, AppRequest& out) {
  if (!present(f.users) || f.users->type != JsonType::Array) return badRequest("users must be an array of user ids");
  AppOnline online;
  for (size_t i = f.usersIndex + 1; i < members.size(); ++i) {
    if (members[i].parent != f.usersIndex) continue;
    if (members[i].value.type != JsonType::String) return badRequest("users must be an array of user ids");
    if (online.users.size() == kMaxOnlineUsers) return {"too_large", "users must name 1..500 user ids"};
    online.users.emplace_back(members[i].value.str);
  }
  if (online.users.empty()) return badRequest("users must name 1..500 user ids");
  out = std::move(online);
  return {};
}

// Reads an optional string field; returns false (and sets error) on a wrong type.
bool readString(const JsonValue* v, std::string_view name, std::string& out, AppDecodeError& error) {
  if (!present(v)) return true;
  if (v->type != JsonType::String) {
    error = badRequest(std::string(name) + " must be a string");
    return false;
  }
  out.assign(v->str);
  return true;
}

bool readUnsigned(const JsonValue* v, std::string_view name, uint64_t& out, AppDecodeError& error) {
  if (!present(v)) return true;
  if (!v->getUnsigned(out)) {
    error = badRequest(std::string(name) + " must be an unsigned integer");
    return false;
  }
  return true;
}

bool validChannel(const std::string& ch, AppDecodeError& error) {
  if (ch.empty()) {
    error = badRequest("ch is required");
    return false;
  }
  if (!isValidChannelName(ch)) {
    error = badRequest("invalid channel name");
    return false;
  }
  return true;
}

bool validUser(const JsonValue* v, std::string& out, AppDecodeError& error) {
  if (!present(v)) {
    error = badRequest("user is required");
    return false;
  }
  if (!readString(v, "user", out, error)) return false;
  if (out.empty() || out.size() > kMaxSenderBytes || out.find('\0') != std::string::npos) {
    error = badRequest("user must be 1.." + std::to_string(kMaxSenderBytes) + " bytes without NUL");
    return false;
  }
  return true;
}

// read: user, ch, seq. unread: user, chs (1..500 channel names).
AppDecodeError decodeAppReads(const std::string& op, const Fields& f, std::span<const JsonMember> members, AppRequest& out) {
  AppDecodeError error;
  if (op == "read") {
    AppRead read;
    if (!validUser(f.user, read.user, error)) return error;
    if (!readString(f.ch, "ch", read.channel, error) || !validChannel(read.channel, error)) return error;
    if (!present(f.seq)) return badRequest("seq is required");
    if (!readUnsigned(f.seq, "seq", read.seq, error)) return error;
    out = std::move(read);
    return {};
  }
  AppUnread unread;
  if (!validUser(f.user, unread.user, error)) return error;
  if (!present(f.chs) || f.chs->type != JsonType::Array) return badRequest("chs must be an array of channel names");
  for (size_t i = f.chsIndex + 1; i < members.size(); ++i) {
    if (members[i].parent != f.chsIndex) continue;
    if (members[i].value.type != JsonType::String) return badRequest("each entry of chs must be a string");
    if (unread.channels.size() == kMaxUnreadChannels) return {"too_large", "chs lists more than 500 channels"};
    std::string channel(members[i].value.str);
    if (!validChannel(channel, error)) return error;
    unread.channels.push_back(std::move(channel));
  }
  if (unread.channels.empty()) return badRequest("chs must list at least one channel");
  out = std::move(unread);
  return {};
}

// presence: ch, optional after (a user id) and limit 1..1000; presence_stats: ch.
AppDecodeError decodePresence(const Fields& f, bool statsOnly, AppRequest& out) {
  AppDecodeError error;
  AppPresence presence{{}, statsOnly, {}, kDefaultPresenceLimit};
  if (!readString(f.ch, "ch", presence.channel, error) || !validChannel(presence.channel, error)) return error;
  if (!statsOnly && !readString(f.after, "after", presence.after, error)) return error;
  uint64_t limit = kDefaultPresenceLimit;
  if (!statsOnly && !readUnsigned(f.limit, "limit", limit, error)) return error;
  if (limit < 1 || limit > kMaxPresenceLimit) return badRequest("limit must be 1.." + std::to_string(kMaxPresenceLimit));
  presence.limit = static_cast<uint32_t>(limit);
  out = std::move(presence);
  return {};
}

// pub, and edit and delete (a publish naming a seq: docs/protocol.md "Edit and delete").
AppDecodeError decodePublish(const Fields& f, std::string_view op, size_t maxDataBytes, AppPublish& pub) {
  AppDecodeError error;
  if (op != "pub") {
    uint64_t seq = 0;
    if (!present(f.seq)) return badRequest("seq is required");
    if (!readUnsigned(f.seq, "seq", seq, error)) return error;
    if (seq == 0) return badRequest("seq must be >= 1");
    (op == "edit" ? pub.editOf : pub.deleteOf) = seq;
  }
  if (!readString(f.ch, "ch", pub.channel, error) || !validChannel(pub.channel, error)) return error;
  if (!readString(f.from, "from", pub.from, error)) return error;
  if (!present(f.from)) pub.from = kDefaultAppSender;
  if (pub.from.empty() || pub.from.size() > kMaxSenderBytes || pub.from.find('\0') != std::string::npos)
    return badRequest("from must be 1.." + std::to_string(kMaxSenderBytes) + " bytes without NUL");
  if (!readString(f.cid, "cid", pub.cid, error)) return error;
  if (present(f.cid) && (pub.cid.empty() || pub.cid.size() > kMaxCidBytes))
    return badRequest("cid must be 1.." + std::to_string(kMaxCidBytes) + " bytes");
  if (pub.deleteOf != 0) {
    if (present(f.data)) return badRequest("a delete carries no data");
    return {};
  }
  if (!f.data) return badRequest("data is required");
  pub.data.assign(f.data->raw);  // byte for byte: big integers, key order, inner whitespace
  if (pub.data.size() > maxDataBytes) return {"too_large", "data exceeds " + std::to_string(maxDataBytes) + " bytes"};
  return {};
}

AppDecodeError decodeErase(const Fields& f, std::string_view op, AppRequest& out) {
  AppDecodeError error;
  std::string user;
  if (!present(f.user)) return badRequest("user is required");
  if (!readString(f.user, "user", user, error)) return error;
  if (!EraseJobs::validUser(user)) return badRequest("user must be 1..128 bytes without NUL, tab or line break");
  if (op == "erase_user") {
    out = AppEraseUser{std::move(user)};
  } else {
    out = AppEraseStatus{std::move(user)};
  }
  return {};
}

}  // namespace

struct AppRequestDecoder::Impl {
  JsonObjectReader reader;  // the same validating On-Demand walk as the client request decoder
};

AppRequestDecoder::AppRequestDecoder(size_t maxDataBytes)
    : impl_(std::make_unique<Impl>()), maxDataBytes_(maxDataBytes) {}

AppRequestDecoder::~AppRequestDecoder() = default;

AppDecodeError AppRequestDecoder::decode(std::string_view frame, AppRequest& out, std::string_view impliedOp) {
  JsonObjectReader& reader = impl_->reader;
  // unread's channels, online's users, conversations' before {ts, ch}
  static constexpr std::array<std::string_view, 3> kExpanded = {"chs", "users", "before"};
  const JsonReadStatus status = reader.read(frame, kExpanded);
  if (status.code == JsonReadStatus::NotAnObject) return badRequest("request must be a JSON object");
  if (!status.ok()) return badRequest("invalid JSON: " + std::string(status.detail));

  Fields f;
  const std::span<const JsonMember> members = reader.members();
  AppDecodeError error = collectFields(members, f);
  if (!error.ok()) return error;
  std::string op;
  if (!present(f.op) && impliedOp.empty()) return badRequest("op is required");
  if (!readString(f.op, "op", op, error)) return error;
  if (!impliedOp.empty()) {
    if (present(f.op) && op != impliedOp) return badRequest("op does not match the URL");
    op = impliedOp;
  }

  if (op == "pub" || op == "edit" || op == "delete") {
    AppPublish pub;
    if (AppDecodeError e = decodePublish(f, op, maxDataBytes_, pub); !e.ok()) return e;
    out = std::move(pub);
    return {};
  }
  if (op == "hist") {
    AppHistory hist;
    if (!readString(f.ch, "ch", hist.channel, error) || !validChannel(hist.channel, error))
      return error;
    if (!readUnsigned(f.before, "before", hist.before, error)) return error;
    if (!readUnsigned(f.after, "after", hist.after, error)) return error;
    if (present(f.before) && present(f.after)) return badRequest("give before or after, not both");
    if (present(f.before) && hist.before == 0) return badRequest("before must be >= 1");
    uint64_t limit = kDefaultHistLimit;
    if (!readUnsigned(f.limit, "limit", limit, error)) return error;
    if (limit < 1 || limit > kMaxHistLimit)
      return badRequest("limit must be 1.." + std::to_string(kMaxHistLimit));
    hist.limit = static_cast<uint32_t>(limit);
    out = std::move(hist);
    return {};
  }
  if (op == "stats") {
    out = AppStats{};
    return {};
  }
  if (op == "presence" || op == "presence_stats") return decodePresence(f, op == "presence_stats", out);
  if (op == "kick") {
    AppKick kick;
    if (!validUser(f.user, kick.user, error)) return error;
    uint64_t code = kick.code;
    if (!readUnsigned(f.code, "code", code, error)) return error;
    if (code < 4000 || code > 4999) return badRequest("code must be 4000..4999");
    kick.code = static_cast<uint32_t>(code);
    if (!readString(f.reason, "reason", kick.reason, error)) return error;
    if (kick.reason.size() > kMaxKickReasonBytes)
      return badRequest("reason must be at most " + std::to_string(kMaxKickReasonBytes) + " bytes");
    out = std::move(kick);
    return {};
  }
  if (op == "read" || op == "unread") return decodeAppReads(op, f, members, out);
  if (op == "conversations") return decodeAppConversations(members, out);  // app_conversations.cpp
  if (op == "online") return decodeOnline(members, f, out);
  if (op == "erase_user" || op == "erase_status") return decodeErase(f, op, out);
  return badRequest("unknown op");
}

std::string encodeAppOk() { return R"({"ok":true})"; }

bool isAppRefusal(std::string_view reply) {
  JsonObjectReader reader;
  if (!reader.read(reply).ok()) return true;
  for (const JsonMember& m : reader.members()) {
    if (m.parent == kJsonTopLevel && m.key == "ok") return !(m.value.type == JsonType::Bool && m.value.b);
  }
  return true;
}

std::string encodeAppError(std::string_view code, std::string_view message) {
  std::string out;
  JsonWriter w(out);
  w.beginObject().key("ok").boolean(false).key("code").string(code).key("msg").string(message);
  w.endObject();
  return out;
}

std::string encodePublishOk(uint64_t epoch, uint64_t seq) {
  std::string out;
  JsonWriter w(out);
  w.beginObject().key("ok").boolean(true).key("epoch").string(formatEpoch(epoch));
  w.key("seq").uinteger(seq).endObject();
  return out;
}

void appendDeliveryJson(std::string& out, const StoredMessage& msg) {
  JsonWriter w(out);
  w.beginObject().key("op").string("msg").key("ch").string(msg.channel);
  w.key("epoch").string(formatEpoch(msg.epoch)).key("seq").uinteger(msg.seq);
  w.key("from").string(msg.from).key("ts").integer(msg.tsMs);
  if (msg.editOf != 0) w.key("edit").uinteger(msg.editOf);
  if (msg.deleteOf != 0) w.key("delete").uinteger(msg.deleteOf);
  if (msg.deleted) w.key("deleted").boolean(true);
  if (msg.noticeSeq != 0) {
    w.key("notice").beginObject().key("ch").string(msg.noticeChannel).key("seq").uinteger(msg.noticeSeq).endObject();
  }
  if (!msg.data.empty()) w.key("data").raw(msg.data);
  w.endObject();
}

std::string encodeHistoryOk(const HistoryPage& page) {
  std::string out;
  out.reserve(64);
  out += "{\"ok\":true,\"epoch\":";
  appendJsonString(out, formatEpoch(page.epoch));
  out += ",\"last\":" + std::to_string(page.lastSeq) + ",\"msgs\":[";
  for (size_t i = 0; i < page.msgs.size(); ++i) {
    if (i) out += ',';
    appendDeliveryJson(out, page.msgs[i]);
  }
  out += "],\"more\":";
  out += page.more ? "true}" : "false}";
  return out;
}

std::string encodeStatsOk(const HubStats& s) {
  std::string out;
  JsonWriter w(out);
  w.beginObject().key("ok").boolean(true);
  w.key("channels").uinteger(s.channels).key("published").uinteger(s.published);
  w.key("duplicates").uinteger(s.duplicates).key("frontends").uinteger(s.frontends);
  w.key("uptime_s").uinteger(s.uptimeS).key("commits").uinteger(s.commits);
  w.key("commit_failures").uinteger(s.commitFailures);
  w.key("subscribed_topics").uinteger(s.subscribedTopics);
  w.key("subscribes").uinteger(s.subscribes).key("unsubscribes").uinteger(s.unsubscribes);
  w.key("app_requests").uinteger(s.appRequests);
  w.key("frontend_requests").uinteger(s.frontendRequests);
  w.key("bad_requests").uinteger(s.badRequests);
  w.key("kicks").uinteger(s.kicks);
  w.key("syncs_deferred").uinteger(s.syncsDeferred);
  w.key("inbox_users").uinteger(s.inboxUsers);
  w.key("watched_users").uinteger(s.watchedUsers);
  w.key("channels_in_memory").uinteger(s.channelsInMemory);
  w.key("auth_admitted").uinteger(s.authAdmitted).key("auth_refused").uinteger(s.authRefused);
  w.key("signals").uinteger(s.signals);
  w.key("reads").uinteger(s.reads).key("unreads").uinteger(s.unreads).key("cursors_written").uinteger(s.cursorsWritten).key("receipts").uinteger(s.receipts);
  w.key("dm_notices").uinteger(s.dmNotices).key("outbox_written").uinteger(s.outboxWritten);
  w.key("outbox_delivered").uinteger(s.outboxDelivered);
  w.endObject();
  return out;
}

}  // namespace webim::hub
