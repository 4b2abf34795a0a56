// The client protocol's requests (docs/protocol.md section 1) and their flows, written as coroutines
// with deadlines: auth, unsub, pub, hist (sub and its join: connection_join.cpp). The same flows
// serve the HTTP fallback's /cmd and /events (replies go through sendReply / deliverOwn).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

#include "common/channel_rules.h"
#include "common/topics.h"
#include "frontend/channel_index.h"
#include "frontend/connection.h"
#include "frontend/frontend.h"

namespace webim {

namespace {

// The requests POST /cmd takes (the HTTP fallback: auth is its sid, sub/unsub its event stream).
bool takenByCommand(ClientOp op) {
  switch (op) {
    case ClientOp::Auth:
    case ClientOp::Sub:
    case ClientOp::Unsub:
    case ClientOp::Unknown:
      return false;
    default:
      return true;
  }
}

}  // namespace

bool Connection::hubAnswered(int64_t id, const HubResult& result, std::string_view noAnswer) {
  if (result.status != WaitStatus::Done) {
    if (result.status == WaitStatus::TimedOut) frontend().metrics().hubTimeouts++;
    replyError(id, true, "unavailable", noAnswer);
    return false;
  }
  if (result.reply.has_error()) {
    replyError(id, true, result.reply.error().code(), result.reply.error().message());
    return false;
  }
  return true;
}

void Connection::handleRequest(std::string_view payload) {
  ClientRequest request;
  DecodeError error = frontend().decoder().decode(payload, request);
  if (!session_.active() && (!error.ok() || request.op != ClientOp::Auth)) {
    close(4001, "the first request must be auth");
    return;
  }
  if (!error.ok()) {
    replyError(request, error.tooLarge ? "too_large" : "bad_request", error.message);
    return;
  }
  if (isCommand() && !takenByCommand(request.op)) {
    replyError(request, "bad_request",
               "POST /cmd takes one pub, hist, signal, edit, delete, read, unread, online, presence, presence_stats or conversations request");
    return;
  }
  if (isCommand()) {
    // Each /cmd is a connection of its own: the user's requests share one bucket instead.
    const FrontendConfig& config = frontend().config();
    if (!frontend().commandRates().take(session_.user, frontend().nowMs(), config.rateLimit, config.rateBurst)) {
      frontend().metrics().rateLimited++;
      replyError(request, "rate_limited", "over the rate limit (rate_limit per user for POST /cmd)");
      return;
    }
  }
  switch (request.op) {
    case ClientOp::Auth:
      handleAuth(request);
      break;
    case ClientOp::Sub:
      handleSub(request);
      break;
    case ClientOp::Unsub:
      handleUnsub(request);
      break;
    case ClientOp::Pub:
    case ClientOp::Edit:    // an edit or delete is a publish naming a seq (docs/protocol.md "Edit and delete"):
    case ClientOp::Delete:  // the same grant, limits and ack; the hub checks the rest
      if (refusedPublish(request)) break;
      if (uint64_t limit = overHubDataLimit(request); limit != 0) {
        replyError(request, "too_large", "data is larger than the hub takes (" + std::to_string(limit) + " bytes)");
      } else {
        publish(request.id, std::string(request.ch), std::string(request.cid), std::string(request.data),
                request.op == ClientOp::Edit ? request.seq : 0, request.op == ClientOp::Delete ? request.seq : 0);
      }
      break;
    case ClientOp::Hist:
      if (!isValidChannelName(request.ch)) {
        replyError(request, "bad_request", "invalid channel name");
      } else if (!session_.canSubscribe(request.ch)) {
        replyError(request, "forbidden", "no grant for this channel");
        countForbidden();
      } else if (request.before && request.after) {
        replyError(request, "bad_request", "give before or after, not both");
      } else {
        history(request.id, std::string(request.ch), request.before.value_or(0), request.after.value_or(0),
                request.limit);
      }
      break;
    case ClientOp::Signal:
      handleSignal(request);
      break;
    case ClientOp::Read:
      handleRead(request);
      break;
    case ClientOp::Unread:
      handleUnread(request);
      break;
    case ClientOp::Online:
      handleOnline(request);
      break;
    case ClientOp::Presence:
    case ClientOp::PresenceStats:
      handlePresence(request);  // connection_presence.cpp
      break;
    case ClientOp::Conversations: return handleConversations(request);  // conversations.cpp
    case ClientOp::Unknown:
      replyError(request, "bad_request", "unknown op");
      break;
  }
}

// A signal (docs/protocol.md "Signals"): checked like a pub, handed to the channel's hub, which
// publishes it to the channel's current subscribers; answered ok once handed over, never stored.
void Connection::handleSignal(const ClientRequest& request) {
  if (refusedPublish(request)) return;
  if (request.data.size() > frontend().config().maxSignalBytes) {
    replyError(request, "too_large", "signal data is larger than max_signal_bytes (" +
                                         std::to_string(frontend().config().maxSignalBytes) + " bytes)");
  } else if (uint64_t limit = overHubDataLimit(request); limit != 0) {
    // The hub would refuse it, unanswered (a signal has no reply): refused here, where it can be said.
    replyError(request, "too_large", "signal data is larger than the hub's max_data_bytes (" + std::to_string(limit) + " bytes)");
  } else {
    wire::FrontendRequest out;
    wire::Signal* signal = out.mutable_signal();
    signal->set_channel(std::string(request.ch));
    signal->set_from(session_.user);
    signal->set_data(std::string(request.data));
    if (frontend().hubFor(request.ch).post(out)) {
      frontend().metrics().signalsOut++;
      replyOk(request.id);
    } else {
      replyError(request, "unavailable", "the hub link is not ready");
    }
  }
}

// A pub or a signal to a channel this connection may not write: answered with the error (true).
bool Connection::refusedPublish(const ClientRequest& request) {
  if (!isValidChannelName(request.ch)) {
    replyError(request, "bad_request", "invalid channel name");
    return true;
  }
  if (!session_.canPublish(request.ch)) {
    replyError(request, "forbidden", "no publish grant for this channel");
    countForbidden();
    return true;
  }
  return false;
}

// The channel's hub limit on `data` when the request's data is over it, else 0. What the hub would
// refuse is refused here (its limit came with its answer to our hello; 0 until then).
uint64_t Connection::overHubDataLimit(const ClientRequest& request) {
  const uint64_t limit = frontend().hubFor(request.ch).maxDataBytes();
  return limit != 0 && request.data.size() > limit ? limit : 0;
}

void Connection::handleAuth(const ClientRequest& request) {
  TokenResult result = frontend().verifier().verify(request.token, frontend().wallSeconds());
  if (result.error != TokenError::None) {
    logRefused("token", toString(result.error));
    close(4001, toString(result.error));
    return;
  }
  if (frontend().isRevoked(result.claims)) {
    logRefused("token", "revoked");
    close(4001, "token revoked: the user was kicked after it was issued");
    return;
  }
  if (session_.active() && result.claims.sub != session_.user) {
    replyError(request, "bad_request", "a refreshed token must be for the same user");
    return;
  }
  const bool refresh = session_.active();
  std::vector<std::string> watch = std::move(result.claims.watch);
  if (!session_.active()) {
    session_.user = result.claims.sub;  // counted under this name (startSession keeps it)
    if (!countUser()) {
      close(4029, "too many connections of this user");
      return;
    }
  }
  startSession(std::move(result.claims));
  // The token's expiry is the connection's deadline until a fresh auth moves it.
  int64_t msLeft = (session_.exp - frontend().wallSeconds()) * 1000;
  authOrExpiryMs_ = frontend().nowMs() + static_cast<uint64_t>(std::max<int64_t>(msLeft, 0));
  armWebSocketDeadline();
  if (refresh) revokeUngranted();  // before the ok: once it arrives, the client knows every loss
  std::string out;
  JsonWriter(out)
      .beginObject()
      .key("op").string("ok")
      .key("id").integer(request.id)
      .key("user").string(session_.user)
      .key("conn").string(frontend().config().id + "-" + std::to_string(session_.serial))
      .endObject();
  sendReply(out);
  // After the ok: the watched users' current statuses follow it (a refresh replaces the list).
  if (!watch.empty() || refresh) frontend().setWatches(fd_, std::move(watch));
}

// After a refresh: the new grants may allow less. Every subscription they no longer allow (live, or
// still joining) ends here, and the client is told per channel with
//   {"op":"revoked","ch":C,"code":"forbidden","msg":...}
// A sub of such a channel still waiting for its answer is then answered forbidden (connection_join.cpp).
void Connection::revokeUngranted() {
  std::vector<Channel*> revoked;
  for (Channel* channel : channels_) {
    if (!session_.canSubscribe(channel->name)) revoked.push_back(channel);
  }
  for (Channel* channel : revoked) {
    std::string out;
    JsonWriter(out)
        .beginObject()
        .key("op").string("revoked")
        .key("ch").string(channel->name)
        .key("code").string("forbidden")
        .key("msg").string(kRevokedMessage)
        .endObject();
    channels_.erase(channel);
    frontend().stream().leave(channel, this);  // may free the channel
    sendText(out);
  }
}

// A first auth starts the session; a refresh (same user) replaces its expiry and grants.
void Connection::startSession(TokenClaims&& claims) {
  if (!session_.active()) {
    session_.serial = static_cast<uint32_t>(frontend().nextConnectionSerial());
    frontend().metrics().authenticated++;
  }
  session_.user = std::move(claims.sub);
  session_.exp = static_cast<uint32_t>(std::clamp<int64_t>(claims.exp, 0, UINT32_MAX));  // Unix seconds, to 2106
  session_.grants =
      frontend().internGrants(std::move(claims.subscribe), std::move(claims.publish), std::move(claims.presence));
}

bool Connection::countUser() {
  if (countedUser_) return true;
  if (!frontend().userCounts().tryAdd(session_.user, frontend().config().maxConnectionsPerUser)) {
    frontend().metrics().userCapRefusals++;
    return false;
  }
  countedUser_ = true;
  if (frontend().userCounts().count(session_.user) == 1) frontend().userPresenceChanged(session_.user);
  return true;
}

bool Connection::Session::canSubscribe(std::string_view ch) const noexcept {
  return webim::canSubscribe(user, grants->subscribe, ch);
}

bool Connection::Session::canPublish(std::string_view ch) const noexcept {
  return webim::canPublish(user, grants->publish, ch);
}

Channel* Connection::findSubscription(std::string_view name) const {
  for (Channel* channel : channels_) {
    if (channel->name == name) return channel;
  }
  return nullptr;
}

void Connection::handleUnsub(const ClientRequest& request) {
  if (!isValidChannelName(request.ch)) {
    replyError(request, "bad_request", "invalid channel name");
    return;
  }
  if (Channel* channel = findSubscription(request.ch)) {
    channels_.erase(channel);
    frontend().stream().leave(channel, this);
  }
  replyOk(request.id);
}

void Connection::replyOk(int64_t id) {
  std::string out;
  JsonWriter(out).beginObject().key("op").string("ok").key("id").integer(id).endObject();
  sendReply(out);
}

void Connection::replyError(const ClientRequest& request, std::string_view code, std::string_view message) {
  replyError(request.id, request.hasId, code, message);
}

void Connection::replyError(int64_t id, bool hasId, std::string_view code, std::string_view message) {
  std::string out;
  JsonWriter writer(out);
  writer.beginObject().key("op").string("err");
  if (hasId) writer.key("id").integer(id);
  writer.key("code").string(code).key("msg").string(message).endObject();
  sendReply(out);
}

Task Connection::publish(int64_t id, std::string channel, std::string cid, std::string data, uint64_t editOf,
                         uint64_t deleteOf) {
  wire::FrontendRequest request;
  wire::Publish* body = request.mutable_publish();
  body->set_channel(std::move(channel));
  body->set_from(session_.user);
  body->set_cid(std::move(cid));
  body->set_data(std::move(data));
  body->set_edit_of(editOf);
  body->set_delete_of(deleteOf);
  const uint64_t sentNs = uv_hrtime();  // the call sends at once
  HubCall call(frontend().hubFor(request.publish().channel()), pending_, request,
               frontend().nowMs() + frontend().config().hubTimeoutMs);
  HubResult result = co_await call;
  if (result.status == WaitStatus::Cancelled) co_return;
  Metrics& metrics = frontend().metrics();
  // No answer: the outcome is unknown, the client retries with the same cid (docs/protocol.md).
  if (!hubAnswered(id, result, "the hub did not acknowledge in time; retry with the same cid")) {
    metrics.publishErrors++;
    co_return;
  }
  metrics.publishes++;
  metrics.publishAck.observeNs(uv_hrtime() - sentNs);
  std::string out;
  JsonWriter(out)
      .beginObject()
      .key("op").string("ok")
      .key("id").integer(id)
      .key("epoch").string(formatEpoch(result.reply.publish_ack().epoch()))
      .key("seq").uinteger(result.reply.publish_ack().seq())
      .endObject();
  sendReply(out);
  if (editOf == 0 && deleteOf == 0) touchConversation(request.publish().channel(), result.reply.publish_ack().seq());
}

Task Connection::history(int64_t id, std::string channel, uint64_t before, uint64_t after, uint32_t limit) {
  wire::FrontendRequest request;
  wire::History* body = request.mutable_history();
  body->set_channel(std::move(channel));
  body->set_before(before);
  body->set_after(after);
  body->set_limit(limit);
  HubCall call(frontend().hubFor(request.history().channel()), pending_, request,
               frontend().nowMs() + frontend().config().hubTimeoutMs);
  HubResult result = co_await call;
  if (result.status == WaitStatus::Cancelled) co_return;
  if (!hubAnswered(id, result, "the hub did not answer in time")) co_return;
  const wire::HistoryPage& page = result.reply.history();
  std::string out;
  JsonWriter writer(out);
  writer.beginObject()
      .key("op").string("ok")
      .key("id").integer(id)
      .key("epoch").string(formatEpoch(page.epoch()))
      .key("msgs").beginArray();
  for (const wire::Delivery& m : page.msgs()) writeMessage(writer, m);
  writer.endArray().key("more").boolean(page.more()).endObject();
  sendReply(out);
}

}  // namespace webim
