// The client protocol's requests (docs/protocol.md section 1) and their flows, written as coroutines
// with deadlines: auth, sub (with gap-free join and recovery), unsub, pub, hist. The same flows
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
constexpr uint64_t kSyncWaitMs = 1000;  // then the join asks the hub on the request path
// A replay waits this long at most for its turn behind the connection's other replays (then the
// client gets recovered:false and reads history itself).
constexpr uint64_t kReplayTurnWaitMs = 60'000;
// Why a subscription ended (or a join failed) after a refresh with fewer grants.
constexpr std::string_view kRevokedMessage = "the refreshed token does not grant this channel";

template <class F>
struct ScopeExit {
  F f;
  bool armed = false;
  ~ScopeExit() {
    if (armed) f();
  }
};
}  // namespace

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
  if (isCommand() && request.op != ClientOp::Pub && request.op != ClientOp::Hist) {
    replyError(request, "bad_request", "POST /cmd takes one pub or hist request");
    return;
  }
  if (isCommand()) {
    // Each /cmd is a connection of its own: the user's requests share one bucket instead.
    const FrontendConfig& config = frontend().config();
    if (!frontend().commandRates().take(session_.user, frontend().nowMs(), config.rateLimit, config.rateBurst)) {
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
      if (!isValidChannelName(request.ch)) {
        replyError(request, "bad_request", "invalid channel name");
      } else if (!session_.canPublish(request.ch)) {
        replyError(request, "forbidden", "no publish grant for this channel");
        countForbidden();
      } else if (uint64_t limit = frontend().hubFor(request.ch).maxDataBytes(); limit != 0 && request.data.size() > limit) {
        // What the hub would refuse is refused here (its limit came with its answer to our hello).
        replyError(request, "too_large", "data is larger than the hub takes (" + std::to_string(limit) + " bytes)");
      } else {
        publish(request.id, std::string(request.ch), std::string(request.cid), std::string(request.data));
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
    case ClientOp::Unknown:
      replyError(request, "bad_request", "unknown op");
      break;
  }
}

void Connection::handleAuth(const ClientRequest& request) {
  TokenResult result = frontend().verifier().verify(request.token, frontend().wallSeconds());
  if (result.error != TokenError::None) {
    close(4001, toString(result.error));
    return;
  }
  if (frontend().isRevoked(result.claims)) {
    close(4001, "token revoked: the user was kicked after it was issued");
    return;
  }
  if (session_.active() && result.claims.sub != session_.user) {
    replyError(request, "bad_request", "a refreshed token must be for the same user");
    return;
  }
  const bool refresh = session_.active();
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
}

// After a refresh: the new grants may allow less. Every subscription they no longer allow (live, or
// still joining) ends here, and the client is told per channel with
//   {"op":"revoked","ch":C,"code":"forbidden","msg":...}
// A sub of such a channel still waiting for its answer is then answered forbidden (subscribe()).
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
    frontend().leaveChannel(channel, this);  // may free the channel
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
  session_.grants = frontend().internGrants(std::move(claims.subscribe), std::move(claims.publish));
}

bool Connection::countUser() {
  if (countedUser_) return true;
  if (!frontend().userCounts().tryAdd(session_.user, frontend().config().maxConnectionsPerUser)) {
    frontend().metrics().userCapRefusals++;
    return false;
  }
  countedUser_ = true;
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

void Connection::handleSub(const ClientRequest& request) {
  if (request.subs.empty()) {
    startJoin(request.id, false, request.ch, request.hasSince, request.sinceEpoch, request.sinceSeq);
    return;
  }
  // A batch (a reconnect resubscribing everything): one request for the rate limit, one answer per
  // channel, each naming its channel; the replays it causes are paced by the socket (ReplayPacer).
  for (const SubEntry& entry : request.subs) {
    if (!open()) return;  // closed meanwhile (too many forbidden channels)
    startJoin(request.id, true, entry.ch, entry.hasSince, entry.sinceEpoch, entry.sinceSeq);
  }
}

void Connection::startJoin(int64_t id, bool batched, std::string_view ch, bool hasSince, std::string_view sinceEpoch,
                           uint64_t sinceSeq) {
  if (!isValidChannelName(ch)) {
    replyJoinError(id, batched, ch, "bad_request", "invalid channel name");
    return;
  }
  if (!session_.canSubscribe(ch)) {
    replyJoinError(id, batched, ch, "forbidden", "no grant for this channel");
    countForbidden();
    return;
  }
  if (channels_.size() >= frontend().config().maxSubscriptions && findSubscription(ch) == nullptr) {
    replyJoinError(id, batched, ch, "too_large", "too many subscriptions (max_subscriptions)");
    return;
  }
  std::optional<Since> since;
  if (hasSince) {
    std::optional<uint64_t> epoch = parseEpoch(sinceEpoch);
    if (!epoch) {
      replyJoinError(id, batched, ch, "bad_request", "since.epoch must be 16 hex digits");
      return;
    }
    since = Since{*epoch, sinceSeq};
  }
  subscribe(id, batched, std::string(ch), since);
}

void Connection::handleUnsub(const ClientRequest& request) {
  if (!isValidChannelName(request.ch)) {
    replyError(request, "bad_request", "invalid channel name");
    return;
  }
  if (Channel* channel = findSubscription(request.ch)) {
    channels_.erase(channel);
    frontend().leaveChannel(channel, this);
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

// ---- request flows (coroutines) ---------------------------------------------------------------

// Joins a channel without a gap or a duplicate (docs/architecture.md, "Joining a stream"):
//  1. the channel must be live here (the hub's sync says where its stream starts);
//  2. with `since`, the messages after it are read from history, page by page, until the cursor
//     reaches what this frontend has delivered live so far (bounded by the recovery window);
//  3. then, in one step of the loop, the ok (WebSocket) goes out, the recovered messages, and the
//     connection becomes a live subscriber: every later message has a higher seq.
// While catching up the connection is not in `subscribers`; pendingJoins keeps the channel alive.
Task Connection::subscribe(int64_t id, bool batched, std::string name, std::optional<Since> since) {
  const FrontendConfig& config = frontend().config();
  if (Channel* existing = findSubscription(name)) {
    // Already subscribed or joining: answer with where the stream is, once that is known.
    if (!existing->live) {
      existing->pendingJoins++;  // pinned while we wait: the first join may give up meanwhile
      JoinWait join(*existing, pending_, frontend().wheel(), frontend().nowMs() + config.hubTimeoutMs);
      WaitStatus status = co_await join;
      existing->pendingJoins--;
      if (status == WaitStatus::Cancelled) co_return;  // the closing connection leaves its channels itself
    }
    if (phase_ == Phase::WebSocket) {
      if (!session_.canSubscribe(name)) {
        replyJoinError(id, batched, name, "forbidden", kRevokedMessage);  // revoked meanwhile
      } else if (existing->live) {
        replySubscribed(id, batched, *existing, since ? std::optional<bool>(false) : std::nullopt);
      } else {
        replyJoinError(id, batched, name, "unavailable", "the hub did not confirm the subscription in time");
      }
    }
    if (findSubscription(name) != existing) frontend().releaseChannel(existing);  // the first join gave up
    co_return;
  }
  Channel* channel = frontend().acquireChannel(name);
  channels_.push_back(channel);
  if (!channel->live && isInboxChannel(name)) {
    // An inbox goes live when the hub acknowledges routing it here (Frontend::attachInboxes, retried
    // until it holds); there is no topic sync to wait for.
    JoinWait join(*channel, pending_, frontend().wheel(), frontend().nowMs() + config.hubTimeoutMs);
    WaitStatus status = co_await join;
    if (status == WaitStatus::Cancelled) {
      channel->pendingJoins--;  // the closing connection leaves the channel itself
      co_return;
    }
    if (!channel->live) {
      frontend().metrics().hubTimeouts++;
      abandonJoin(channel);
      failJoin(id, batched, name, "the hub did not attach this inbox in time");
      co_return;
    }
  }
  if (!channel->live) {
    // The sync answering our subscribe travels on the publish socket and can be dropped like any
    // message there (HWM): after a short wait, ask for the stream's position on the request path.
    uint64_t syncWaitMs = std::min<uint64_t>(config.hubTimeoutMs, kSyncWaitMs);
    JoinWait join(*channel, pending_, frontend().wheel(), frontend().nowMs() + syncWaitMs);
    WaitStatus status = co_await join;
    if (status == WaitStatus::Cancelled) {
      channel->pendingJoins--;  // the closing connection leaves the channel itself
      co_return;
    }
    if (status != WaitStatus::Done && !channel->live) {
      wire::FrontendRequest request;
      wire::History* body = request.mutable_history();
      body->set_channel(name);
      body->set_after(std::numeric_limits<int64_t>::max());  // no messages: epoch and last seq only
      body->set_limit(1);
      HubCall call(frontend().hubFor(name), pending_, request, frontend().nowMs() + config.hubTimeoutMs);
      HubResult result = co_await call;
      if (result.status == WaitStatus::Cancelled) {
        channel->pendingJoins--;
        co_return;
      }
      if (result.status != WaitStatus::Done || result.reply.has_error()) {
        frontend().metrics().hubTimeouts++;
        abandonJoin(channel);
        failJoin(id, batched, name, "the hub did not confirm the subscription in time");
        co_return;
      }
      // Anything published before our subscription reached the hub but after this position shows
      // up as a hole later (seq jump or periodic sync) and is filled from history.
      if (!channel->live) frontend().goLive(channel, result.reply.history().epoch(), result.reply.history().last_seq());
    }
  }

  // Recovery: messages after `since`, in order, within the window.
  std::vector<wire::Delivery> missed;
  std::optional<bool> recovered;
  // Replays are paced per connection (ReplayPacer): the turn is ours from here to the end, once the
  // replay has left for the socket.
  ScopeExit endTurn{[this] { endReplayTurn(); }};
  if (since) {
    recovered = false;
    bool turn = false;
    if (since->epoch == channel->epoch && since->seq < channel->lastSeq) {
      PaceWait wait(frontend().replayPacer(), this, PaceWait::Kind::Turn, 0, pending_, frontend().wheel(),
                    frontend().nowMs() + kReplayTurnWaitMs);
      WaitStatus status = co_await wait;
      if (status == WaitStatus::Cancelled) {
        channel->pendingJoins--;
        co_return;
      }
      turn = status == WaitStatus::Done;  // else recovered:false: the client reads history itself
      if (turn) {
        replaying_ = true;
        endTurn.armed = true;
        PaceWait drain(frontend().replayPacer(), this, PaceWait::Kind::Drain, queuedBytes(), pending_,
                       frontend().wheel(), frontend().nowMs() + config.writeTimeoutMs + config.hubTimeoutMs);
        WaitStatus drained = co_await drain;
        if (drained == WaitStatus::Cancelled) {
          channel->pendingJoins--;
          co_return;
        }
      }
    }
    if (since->epoch == channel->epoch && since->seq >= channel->lastSeq) {
      recovered = true;  // nothing missed
    } else if (since->epoch == channel->epoch && turn) {
      uint64_t cursor = since->seq;
      size_t bytes = 0;
      bool withinWindow = true;
      while (withinWindow && cursor < channel->lastSeq) {
        wire::FrontendRequest request;
        wire::History* body = request.mutable_history();
        body->set_channel(name);
        body->set_after(cursor);
        body->set_limit(kMaxHistLimit);
        HubCall call(frontend().hubFor(name), pending_, request, frontend().nowMs() + config.hubTimeoutMs);
        HubResult result = co_await call;
        if (result.status == WaitStatus::Cancelled) {
          channel->pendingJoins--;
          co_return;
        }
        if (result.status != WaitStatus::Done || result.reply.has_error()) break;  // recovered:false
        const wire::HistoryPage& page = result.reply.history();
        if (page.epoch() != channel->epoch || page.msgs().empty()) break;
        for (const wire::Delivery& m : page.msgs()) {
          if (m.seq() != cursor + 1) {  // history lost this range: a gap we cannot fill
            withinWindow = false;
            break;
          }
          if (m.seq() > channel->lastSeq) break;  // arrives live (or already did, in order)
          bytes += m.data().size() + m.channel().size() + 64;
          if (missed.size() >= config.recoveryMaxMessages || bytes > config.recoveryMaxBytes) {
            withinWindow = false;
            break;
          }
          missed.push_back(m);
          cursor = m.seq();
        }
        if (!page.more() && cursor < channel->lastSeq && withinWindow) {
          // History ends before what we delivered live: it lost messages.
          withinWindow = false;
        }
      }
      recovered = withinWindow && cursor >= channel->lastSeq;
      if (!*recovered) missed.clear();
    }
  }

  channel->pendingJoins--;
  if (std::find(channels_.begin(), channels_.end(), channel) == channels_.end() || !open()) {
    // Unsubscribed while catching up: the join is answered (it reached this position; the unsub's
    // answer went out first), and nothing of the channel follows. Revoked by a refresh: forbidden.
    if (open() && phase_ == Phase::WebSocket) {
      if (session_.canSubscribe(name)) {
        replySubscribed(id, batched, *channel, std::nullopt);
      } else {
        replyJoinError(id, batched, name, "forbidden", kRevokedMessage);
      }
    }
    frontend().releaseChannel(channel);
    co_return;
  }
  if (phase_ == Phase::WebSocket) {
    replySubscribed(id, batched, *channel, recovered);
  } else if (recovered && !*recovered) {
    // The HTTP fallback has no reply: tell the client to reload this channel from hist.
    std::string out;
    JsonWriter(out)
        .beginObject()
        .key("op").string("resync")
        .key("ch").string(channel->name)
        .key("epoch").string(formatEpoch(channel->epoch))
        .key("seq").uinteger(channel->lastSeq)
        .endObject();
    deliverOwn(channel->name, channel->epoch, channel->lastSeq, out);
  }
  for (const wire::Delivery& m : missed) {
    std::string json = encodeMessage(m);
    deliverOwn(m.channel(), m.epoch(), m.seq(), json);
  }
  channel->subscribers.push_back(this);
  if (frontend().config().logLevel == "trace") spdlog::trace("{} live on {}", user(), channel->name);
  if (endTurn.armed && open()) {
    // The turn passes on once this replay has left for the socket.
    PaceWait drain(frontend().replayPacer(), this, PaceWait::Kind::Drain, queuedBytes(), pending_, frontend().wheel(),
                   frontend().nowMs() + config.writeTimeoutMs + config.hubTimeoutMs);
    WaitStatus drained = co_await drain;
    (void)drained;  // done, timed out or cancelled: the turn ends either way
  }
}

void Connection::replySubscribed(int64_t id, bool batched, const Channel& channel, std::optional<bool> recovered) {
  std::string out;
  JsonWriter writer(out);
  writer.beginObject().key("op").string("ok").key("id").integer(id);
  if (batched) writer.key("ch").string(channel.name);
  writer.key("epoch").string(formatEpoch(channel.epoch))
      .key("seq").uinteger(channel.lastSeq);
  if (recovered) writer.key("recovered").boolean(*recovered);  // only when `since` was sent
  writer.endObject();
  sendText(out);
}

void Connection::abandonJoin(Channel* channel) {
  channel->pendingJoins--;
  channels_.erase(channel);
  frontend().releaseChannel(channel);
}

// A join that could not complete: `unavailable` on a WebSocket (the client subscribes again); an
// event stream has no reply to carry it, so it ends and the client reconnects and resumes.
void Connection::failJoin(int64_t id, bool batched, std::string_view ch, std::string_view why) {
  if (phase_ == Phase::Stream) {
    close(1011, why);
    return;
  }
  replyJoinError(id, batched, ch, "unavailable", why);
}

void Connection::replyJoinError(int64_t id, bool batched, std::string_view ch, std::string_view code,
                                std::string_view message) {
  if (!batched) {
    replyError(id, true, code, message);
    return;
  }
  std::string out;
  JsonWriter(out)
      .beginObject()
      .key("op").string("err")
      .key("id").integer(id)
      .key("ch").string(ch)
      .key("code").string(code)
      .key("msg").string(message)
      .endObject();
  sendReply(out);
}

Task Connection::publish(int64_t id, std::string channel, std::string cid, std::string data) {
  wire::FrontendRequest request;
  wire::Publish* body = request.mutable_publish();
  body->set_channel(std::move(channel));
  body->set_from(session_.user);
  body->set_cid(std::move(cid));
  body->set_data(std::move(data));
  HubCall call(frontend().hubFor(request.publish().channel()), pending_, request,
               frontend().nowMs() + frontend().config().hubTimeoutMs);
  HubResult result = co_await call;
  if (result.status == WaitStatus::Cancelled) co_return;
  Metrics& metrics = frontend().metrics();
  if (result.status != WaitStatus::Done) {
    if (result.status == WaitStatus::TimedOut) metrics.hubTimeouts++;
    metrics.publishErrors++;
    // Outcome unknown: the client retries with the same cid (docs/protocol.md).
    replyError(id, true, "unavailable", "the hub did not acknowledge in time; retry with the same cid");
    co_return;
  }
  if (result.reply.has_error()) {
    metrics.publishErrors++;
    replyError(id, true, result.reply.error().code(), result.reply.error().message());
    co_return;
  }
  metrics.publishes++;
  std::string out;
  JsonWriter(out)
      .beginObject()
      .key("op").string("ok")
      .key("id").integer(id)
      .key("epoch").string(formatEpoch(result.reply.publish_ack().epoch()))
      .key("seq").uinteger(result.reply.publish_ack().seq())
      .endObject();
  sendReply(out);
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
  if (result.status != WaitStatus::Done) {
    if (result.status == WaitStatus::TimedOut) frontend().metrics().hubTimeouts++;
    replyError(id, true, "unavailable", "the hub did not answer in time");
    co_return;
  }
  if (result.reply.has_error()) {
    replyError(id, true, result.reply.error().code(), result.reply.error().message());
    co_return;
  }
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
