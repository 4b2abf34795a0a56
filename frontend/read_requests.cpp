// Read cursors (docs/protocol.md "Read cursors and receipts", docs/architecture.md "Read cursors"):
// `read` marks a channel read up to a seq for the token's user, stored by the channel's hub;
// `unread` asks each shard once for the unread counts of its channels and merges the answers.
#include <unordered_map>
#include <unordered_set>

#include "common/channel_rules.h"
#include "common/topics.h"
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
  unreadCounts(request.id, std::move(channels));
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
  if (result.status != WaitStatus::Done) {
    if (result.status == WaitStatus::TimedOut) frontend().metrics().hubTimeouts++;
    replyError(id, true, "unavailable", "the hub did not answer in time; send the read again");
    co_return;
  }
  if (result.reply.has_error()) {
    replyError(id, true, result.reply.error().code(), result.reply.error().message());
    co_return;
  }
  const wire::ReadAck& ack = result.reply.read_ack();
  std::string out;
  JsonWriter(out).beginObject().key("op").string("ok").key("id").integer(id).key("seq").uinteger(ack.seq()).endObject();
  sendReply(out);
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
Task Connection::unreadCounts(int64_t id, std::vector<std::string> channels) {
  std::unordered_map<HubLink*, size_t> requestOf;
  std::vector<wire::FrontendRequest> requests;
  std::vector<std::vector<size_t>> positions;  // per request: the index in `channels` of each channel
  for (size_t i = 0; i < channels.size(); ++i) {
    HubLink* hub = &frontend().hubFor(channels[i]);
    auto [it, added] = requestOf.emplace(hub, requests.size());
    if (added) {
      requests.emplace_back().mutable_unread()->set_user(session_.user);
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
      replyError(id, true, "unavailable", "a hub did not answer in time");
      co_return;
    }
    if (result.reply.has_error()) {
      replyError(id, true, result.reply.error().code(), result.reply.error().message());
      co_return;
    }
    const wire::UnreadCounts& got = result.reply.unread();
    const auto n = static_cast<int>(positions[at].size());
    if (got.counts_size() != n || got.reads_size() != n || got.peer_reads_size() != n) {
      replyError(id, true, "unavailable", "a hub answered a malformed unread reply");
      co_return;
    }
    for (int k = 0; k < n; ++k) {
      const size_t i = positions[at][static_cast<size_t>(k)];
      counts[i] = got.counts(k);
      reads[i] = got.reads(k);
      peerReads[i] = got.peer_reads(k);
    }
  }
  std::string out;
  JsonWriter writer(out);
  writer.beginObject().key("op").string("ok").key("id").integer(id).key("unread").beginObject();
  for (size_t i = 0; i < channels.size(); ++i) writer.key(channels[i]).uinteger(counts[i]);
  writer.endObject().key("read").beginObject();
  for (size_t i = 0; i < channels.size(); ++i) writer.key(channels[i]).uinteger(reads[i]);
  writer.endObject().key("peer_read").beginObject();  // dm: channels only
  for (size_t i = 0; i < channels.size(); ++i) {
    if (channels[i].rfind("dm:", 0) == 0) writer.key(channels[i]).uinteger(peerReads[i]);
  }
  writer.endObject().endObject();
  sendReply(out);
}

}  // namespace webim
