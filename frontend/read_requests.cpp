// Read cursors (docs/protocol.md "Read cursors and receipts", docs/architecture.md "Read cursors"):
// `read` marks a channel read up to a seq for the token's user, stored by the channel's hub;
// `unread` asks each shard once for the unread counts of its channels and merges the answers.
#include <algorithm>
#include <array>
#include <unordered_map>
#include <unordered_set>

#include "common/channel_rules.h"
#include "common/json_reader.h"
#include "common/topics.h"
#include "common/websocket_handshake.h"
#include "frontend/http_api.h"
#include "frontend/connection.h"
#include "frontend/frontend.h"

namespace webim {

// Allowed where the user may subscribe (a `ch` grant, a `dm:` participant, their own inbox); else
// forbidden, whether or not the channel exists.
void Connection::handleRead(const ClientRequest& request) {
  if (!isValidChannelName(request.ch)) {
    replyError(request, "bad_request", "invalid channel name");
  } else if (!session_.canSubscribe(request.ch)) {
    replyError(request, "forbidden", "no grant for this channel");
    countForbidden();
  } else {
    markRead(request.id, std::string(request.ch), request.seq);
  }
}

void Connection::handleUnread(const ClientRequest& request) {
  for (std::string_view ch : request.chs) {
    if (!isValidChannelName(ch)) {
      replyError(request, "bad_request", "invalid channel name");
      return;
    }
  }
  for (std::string_view ch : request.chs) {
    if (!session_.canSubscribe(ch)) {
      // The whole request: naming which channel would tell the granted ones apart.
      replyError(request, "forbidden", "no grant for one of the channels");
      countForbidden();
      return;
    }
  }
  std::vector<std::string> channels;
  std::unordered_set<std::string_view> seen;
  for (std::string_view ch : request.chs) {
    if (seen.insert(ch).second) channels.emplace_back(ch);
  }
  unreadCounts(request.id, session_.user, std::move(channels), false);
}

// POST /api/unread {"user":U,"chs":[...]}: the app asks on behalf of a user (no grant check).
void Connection::apiUnread(std::string_view body) {
  static constexpr std::array<std::string_view, 1> kExpanded = {"chs"};
  auto refuse = [this](std::string_view code, std::string_view message) {
    finishHttp(httpResponse(code == "too_large" ? 413 : 400, "application/json", apiError(code, message)));
  };
  JsonObjectReader& reader = frontend().jsonReader();
  if (!reader.read(body, kExpanded).ok()) return refuse("bad_request", "the body must be a JSON object");
  std::string user;
  std::vector<std::string> channels;
  size_t chsAt = kJsonTopLevel;
  const auto members = reader.members();
  for (size_t i = 0; i < members.size(); ++i) {
    const JsonMember& m = members[i];
    if (m.parent == kJsonTopLevel && m.key == "user" && m.value.type == JsonType::String) user = m.value.str;
    if (m.parent == kJsonTopLevel && m.key == "chs" && m.value.type == JsonType::Array) chsAt = i;
    if (chsAt != kJsonTopLevel && m.parent == chsAt) {
      if (m.value.type != JsonType::String || !isValidChannelName(m.value.str)) return refuse("bad_request", "chs must list channel names");
      if (channels.size() == kMaxUnreadChannels) return refuse("too_large", "chs lists more than 500 channels");
      if (std::find(channels.begin(), channels.end(), m.value.str) == channels.end()) channels.emplace_back(m.value.str);
    }
  }
  if (user.empty() || user.size() > 128) return refuse("bad_request", "user is required (1..128 bytes)");
  if (channels.empty()) return refuse("bad_request", "chs must list at least one channel");
  unreadCounts(0, std::move(user), std::move(channels), true);
}

// Answered once the channel's hub stored the cursor. When it moved, the user's other devices are
// told through their inbox: a ReadReceipt posted to the inbox's hub (which may be another shard),
// published there like a signal (best effort).
Task Connection::markRead(int64_t id, std::string channel, uint64_t seq) {
  wire::FrontendRequest request;
  wire::ReadRequest* body = request.mutable_read();
  body->set_channel(channel);
  body->set_user(session_.user);
  body->set_seq(seq);
  HubCall call(frontend().hubFor(channel), pending_, request, frontend().nowMs() + frontend().config().hubTimeoutMs);
  HubResult result = co_await call;
  if (result.status == WaitStatus::Cancelled) co_return;
  if (!hubAnswered(id, result, "the hub did not answer in time; send the read again")) co_return;
  const wire::ReadAck& ack = result.reply.read_ack();
  std::string out;
  JsonWriter(out).beginObject().key("op").string("ok").key("id").integer(id).key("seq").uinteger(ack.seq()).endObject();
  sendReply(out);
  touchConversation(channel, ack.seq());  // conversations.cpp
  if (!ack.advanced()) co_return;
  std::string inbox = std::string(kInboxPrefix) + session_.user;
  wire::FrontendRequest notice;
  wire::ReadReceipt* receipt = notice.mutable_read_notice();
  receipt->set_channel(std::move(channel));
  receipt->set_user(session_.user);
  receipt->set_seq(ack.seq());
  (void)frontend().hubFor(inbox).post(notice);  // best effort, like a signal
}

// One request per shard, then merged:
//   {"op":"ok","id":N,"unread":{"room:1":3,...},"read":{"room:1":7,...},"peer_read":{"dm:a:b":5}}
Task Connection::unreadCounts(int64_t id, std::string user, std::vector<std::string> channels, bool api,
                              std::optional<ConversationRows> rows) {
  auto fail = [this, id, api](std::string_view code, std::string_view message) {
    if (!api) return replyError(id, true, code, message);
    const std::string json = apiError(code, message);
    finishHttp(httpResponse(apiStatusForReply(frontend().jsonReader(), json), "application/json", json));
  };
  std::unordered_map<HubLink*, size_t> requestOf;
  std::vector<wire::FrontendRequest> requests;
  std::vector<std::vector<size_t>> positions;  // per request: the index in `channels` of each channel
  for (size_t i = 0; i < channels.size(); ++i) {
    HubLink* hub = &frontend().hubFor(channels[i]);
    auto [it, added] = requestOf.emplace(hub, requests.size());
    if (added) {
      requests.emplace_back().mutable_unread()->set_user(user);
      positions.emplace_back();
    }
    requests[it->second].mutable_unread()->add_channels(channels[i]);
    positions[it->second].push_back(i);
  }
  // One call at a time (a HubCall must be awaited before the next is made: see frontend/task.h),
  // all within one deadline; shards are few.
  const uint64_t deadline = frontend().nowMs() + frontend().config().hubTimeoutMs;
  std::vector<uint64_t> counts(channels.size(), 0), reads(channels.size(), 0), peerReads(channels.size(), 0);
  for (auto& [hub, at] : requestOf) {
    HubCall call(*hub, pending_, requests[at], deadline);
    HubResult result = co_await call;
    if (result.status == WaitStatus::Cancelled) co_return;
    if (result.status != WaitStatus::Done) {
      if (result.status == WaitStatus::TimedOut) frontend().metrics().hubTimeouts++;
      fail("unavailable", "a hub did not answer in time");
      co_return;
    }
    if (result.reply.has_error()) {
      fail(result.reply.error().code(), result.reply.error().message());
      co_return;
    }
    const wire::UnreadCounts& got = result.reply.unread();
    const auto n = static_cast<int>(positions[at].size());
    if (got.counts_size() != n || got.reads_size() != n || got.peer_reads_size() != n) {
      fail("unavailable", "a hub answered a malformed unread reply");
      co_return;
    }
    for (int k = 0; k < n; ++k) {
      const size_t i = positions[at][static_cast<size_t>(k)];
      counts[i] = got.counts(k);
      reads[i] = got.reads(k);
      peerReads[i] = got.peer_reads(k);
    }
  }
  if (rows) co_return answerConversations(id, api, channels, *rows, counts, reads, peerReads);  // conversations.cpp
  std::string out;
  JsonWriter writer(out);
  writer.beginObject();
  if (api) {
    writer.key("ok").boolean(true);
  } else {
    writer.key("op").string("ok").key("id").integer(id);
  }
  writer.key("unread").beginObject();
  for (size_t i = 0; i < channels.size(); ++i) writer.key(channels[i]).uinteger(counts[i]);
  writer.endObject().key("read").beginObject();
  for (size_t i = 0; i < channels.size(); ++i) writer.key(channels[i]).uinteger(reads[i]);
  writer.endObject().key("peer_read").beginObject();  // dm: channels only
  for (size_t i = 0; i < channels.size(); ++i) {
    if (channelKind(channels[i]) == ChannelKind::Dm) writer.key(channels[i]).uinteger(peerReads[i]);
  }
  writer.endObject().endObject();
  if (api) {
    finishHttp(httpResponse(200, "application/json", out));
  } else {
    sendReply(out);
  }
}

}  // namespace webim
