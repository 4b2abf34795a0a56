// The `sub` request (docs/protocol.md section 1): checking each channel, joining it without a gap or
// a duplicate, recovering what the client missed, and going live (docs/architecture.md, "Joining a
// channel without a gap"). The channel's own state (live, position, joiners) is ChannelStream's;
// this is the subscriber's side, written as coroutines. While catching up the connection is not in
// the channel's `subscribers`: its ChannelPin holds the channel.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

#include "common/channel_rules.h"
#include "common/topics.h"
#include "frontend/channel_stream.h"
#include "frontend/connection.h"
#include "frontend/frontend.h"
#include "frontend/read_retry.h"
#include "frontend/recovery_window.h"

namespace webim {

namespace {
constexpr uint64_t kSyncWaitMs = 1000;  // then the join asks the hub on the request path
constexpr uint64_t kAheadPollMs = 20;  // a resume ahead of this frontend: how often its stream is checked
// A replay waits this long at most for its turn behind the connection's other replays (then the
// client gets recovered:false and reads history itself).
constexpr uint64_t kReplayTurnWaitMs = 60'000;

// Runs `f` at the end of the scope, if armed by then.
template <class F>
struct ScopeExit {
  explicit ScopeExit(F fn) : f(std::move(fn)) {}
  ScopeExit(const ScopeExit&) = delete;
  ScopeExit& operator=(const ScopeExit&) = delete;
  ~ScopeExit() {
    if (armed) f();
  }
  F f;
  bool armed = false;
};

wire::FrontendRequest historyAfter(std::string_view channel, uint64_t after, uint32_t limit) {
  wire::FrontendRequest request;
  wire::History* body = request.mutable_history();
  body->set_channel(std::string(channel));
  body->set_after(after);
  body->set_limit(limit);
  return request;
}
}  // namespace

void Connection::handleSub(const ClientRequest& request) {
  startSubCursors(request);  // the replies' read cursors (read_sub_cursors.h)
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
  subscribe(id, batched, ch, since);
}

void Connection::subscribe(int64_t id, bool batched, std::string_view ch, std::optional<Since> since) {
  if (Channel* existing = findSubscription(ch)) {
    joinAgain(id, batched, since.has_value(), frontend().stream().pin(existing));
    return;
  }
  ChannelPin pin = frontend().stream().join(ch);
  channels_.push_back(pin.get());
  join(id, batched, since, std::move(pin));
}

// Already subscribed or joining: answer with where the stream is, once that is known.
Task Connection::joinAgain(int64_t id, bool batched, bool withSince, ChannelPin pin) {
  CursorWait cursors(subCursorsFor(id), pending_, frontend().wheel(), frontend().nowMs() + frontend().config().hubTimeoutMs);
  if (co_await cursors == WaitStatus::Cancelled) co_return;
  if (!pin->live) {
    JoinWait join(*pin, pending_, frontend().wheel(), frontend().nowMs() + frontend().config().hubTimeoutMs);
    WaitStatus status = co_await join;
    if (status == WaitStatus::Cancelled) co_return;
  }
  if (phase_ != Phase::WebSocket) co_return;
  if (!session_.canSubscribe(pin->name)) {
    replyJoinError(id, batched, pin->name, "forbidden", kRevokedMessage);  // revoked meanwhile
  } else if (pin->live) {
    replySubscribed(id, batched, *pin, withSince ? std::optional<bool>(false) : std::nullopt);
  } else {
    replyJoinError(id, batched, pin->name, "unavailable", "the hub did not confirm the subscription in time");
  }
}

// Step 1: the channel must be live here (the hub's sync, an inbox's attach, or the request path
// says where its stream starts). Then recover() goes on with the pin.
Task Connection::join(int64_t id, bool batched, std::optional<Since> since, ChannelPin pin) {
  const FrontendConfig& config = frontend().config();
  Channel* channel = pin.get();
  // The sub's read cursors first (read_sub_cursors.h); the channel's sync may come meanwhile.
  CursorWait cursors(subCursorsFor(id), pending_, frontend().wheel(), frontend().nowMs() + config.hubTimeoutMs);
  if (co_await cursors == WaitStatus::Cancelled) co_return;
  if (!channel->live && isInboxChannel(channel->name)) {
    // An inbox goes live when the hub acknowledges routing it here (Frontend::attachInboxes, retried
    // until it holds); there is no topic sync to wait for.
    JoinWait join(*channel, pending_, frontend().wheel(), frontend().nowMs() + config.hubTimeoutMs);
    WaitStatus status = co_await join;
    if (status == WaitStatus::Cancelled) co_return;  // the closing connection left its channels
    if (!channel->live) {
      frontend().metrics().hubTimeouts++;
      abandonJoin(id, batched, channel, "the hub did not attach this inbox in time");
      co_return;
    }
  }
  if (!channel->live) {
    // The sync answering our subscribe travels on the publish socket and can be dropped like any
    // message there (HWM): after a short wait, ask for the stream's position on the request path.
    JoinWait join(*channel, pending_, frontend().wheel(),
                  frontend().nowMs() + std::min<uint64_t>(config.hubTimeoutMs, kSyncWaitMs));
    WaitStatus status = co_await join;
    if (status == WaitStatus::Cancelled) co_return;
    if (status != WaitStatus::Done && !channel->live) {
      // No messages after "the end": the page carries the epoch and the last seq only. Retried like
      // any catch-up read while the store cannot read (ReadRetry).
      ReadRetry retry(config.hubTimeoutMs, reinterpret_cast<uintptr_t>(this) ^ frontend().nowMs());
      for (;;) {
        wire::FrontendRequest request = historyAfter(channel->name, std::numeric_limits<int64_t>::max(), 1);
        HubCall call(frontend().hubFor(channel->name), pending_, request, frontend().nowMs() + config.hubTimeoutMs);
        HubResult result = co_await call;
        if (result.status == WaitStatus::Cancelled) co_return;
        if (channel->live) break;  // the sync came meanwhile
        if (result.status == WaitStatus::Done && !result.reply.has_error()) {
          frontend().stream().onPositionAsked(channel, result.reply.history().epoch(), result.reply.history().last_seq());
          break;
        }
        std::optional<uint64_t> pause = frontend().retryPause(retry, result);
        if (!pause) {
          frontend().metrics().hubTimeouts++;
          abandonJoin(id, batched, channel, "the hub did not confirm the subscription in time");
          co_return;
        }
        Sleep wait(pending_, frontend().wheel(), frontend().nowMs() + *pause);
        WaitStatus slept = co_await wait;
        if (slept == WaitStatus::Cancelled) co_return;
        if (channel->live) break;
      }
    }
  }
  recover(id, batched, since, std::move(pin));
}

// Steps 2-3: with `since`, the messages after it are read from history, page by page, until the
// cursor reaches what this frontend has delivered live so far (bounded by the recovery window).
// Replays are paced per connection (ReplayPacer): the turn is ours from its start to the end of this
// coroutine, once the replay has left for the socket.
Task Connection::recover(int64_t id, bool batched, std::optional<Since> since, ChannelPin pin) {
  if (!since) {
    goLive(id, batched, std::move(pin), std::nullopt, {});
    co_return;
  }
  const FrontendConfig& config = frontend().config();
  Channel* channel = pin.get();
  if (since->epoch == channel->epoch && since->seq > channel->lastSeq) {
    // The client saw more of this epoch than this frontend has delivered (it comes from a frontend
    // that was ahead, e.g. sent away by a drain): going live here now would give it (lastSeq,
    // since] again. The hub's position (not the client's word) fills a lost tail; then wait,
    // within hub_timeout_ms, for the stream to reach the client.
    const uint64_t deadline = frontend().nowMs() + config.hubTimeoutMs;
    wire::FrontendRequest request = historyAfter(channel->name, std::numeric_limits<int64_t>::max(), 1);
    HubCall call(frontend().hubFor(channel->name), pending_, request, deadline);
    HubResult result = co_await call;
    if (result.status == WaitStatus::Cancelled) co_return;
    if (result.status == WaitStatus::Done && !result.reply.has_error()) {
      frontend().stream().onPositionAsked(channel, result.reply.history().epoch(), result.reply.history().last_seq());
    }
    while (channel->epoch == since->epoch && channel->lastSeq < since->seq && frontend().nowMs() < deadline) {
      Sleep wait(pending_, frontend().wheel(), frontend().nowMs() + kAheadPollMs);
      if (co_await wait == WaitStatus::Cancelled) co_return;
    }
  }
  ScopeExit endTurn{[this] { endReplayTurn(); }};
  bool turn = false;
  if (since->epoch == channel->epoch && since->seq < channel->lastSeq) {
    PaceWait wait(frontend().replayPacer(), this, PaceWait::Kind::Turn, 0, pending_, frontend().wheel(),
                  frontend().nowMs() + kReplayTurnWaitMs);
    WaitStatus status = co_await wait;
    if (status == WaitStatus::Cancelled) co_return;
    turn = status == WaitStatus::Done;  // else recovered:false: the client reads history itself
    if (turn) {
      replaying_ = true;
      endTurn.armed = true;
      PaceWait drain(frontend().replayPacer(), this, PaceWait::Kind::Drain, queuedBytes(), pending_,
                     frontend().wheel(), frontend().nowMs() + config.writeTimeoutMs + config.hubTimeoutMs);
      WaitStatus drained = co_await drain;
      if (drained == WaitStatus::Cancelled) co_return;
    }
  }
  bool recovered = since->epoch == channel->epoch && since->seq >= channel->lastSeq;  // nothing missed
  std::vector<wire::Delivery> missed;
  if (!recovered && since->epoch == channel->epoch && turn) {
    RecoveryWindow window(since->seq, config.recoveryMaxMessages, config.recoveryMaxBytes);
    ReadRetry retry(config.hubTimeoutMs, reinterpret_cast<uintptr_t>(this) ^ frontend().nowMs());
    while (window.wantsMore(channel->lastSeq)) {
      wire::FrontendRequest request = historyAfter(channel->name, window.cursor(), kMaxHistLimit);
      HubCall call(frontend().hubFor(channel->name), pending_, request, frontend().nowMs() + config.hubTimeoutMs);
      HubResult result = co_await call;
      if (result.status == WaitStatus::Cancelled) co_return;
      if (result.status == WaitStatus::Done && !result.reply.has_error()) {
        if (!window.take(result.reply.history(), channel->epoch, channel->lastSeq)) break;
        retry.succeeded();
        continue;
      }
      // The store cannot read now (or the hub did not answer): again after a pause, within the budget.
      std::optional<uint64_t> pause = frontend().retryPause(retry, result);
      if (!pause) break;  // recovered:false
      Sleep wait(pending_, frontend().wheel(), frontend().nowMs() + *pause);
      WaitStatus slept = co_await wait;
      if (slept == WaitStatus::Cancelled) co_return;
    }
    recovered = window.complete(channel->lastSeq);
    if (recovered) missed = window.takeMissed();
  }
  goLive(id, batched, std::move(pin), recovered, std::move(missed));
  if (endTurn.armed && open()) {
    // The turn passes on once this replay has left for the socket.
    PaceWait drain(frontend().replayPacer(), this, PaceWait::Kind::Drain, queuedBytes(), pending_, frontend().wheel(),
                   frontend().nowMs() + config.writeTimeoutMs + config.hubTimeoutMs);
    WaitStatus drained = co_await drain;
    (void)drained;  // done, timed out or cancelled: the turn ends either way
  }
}

// Step 3, in one step of the loop: the ok (WebSocket), the recovered messages, and the connection
// becomes a live subscriber: every later message has a higher seq.
void Connection::goLive(int64_t id, bool batched, ChannelPin pin, std::optional<bool> recovered,
                        std::vector<wire::Delivery> missed) {
  Channel* channel = pin.get();
  if (std::find(channels_.begin(), channels_.end(), channel) == channels_.end() || !open()) {
    // Unsubscribed while catching up: the join is answered (it reached this position; the unsub's
    // answer went out first), and nothing of the channel follows. Revoked by a refresh: forbidden.
    if (open() && phase_ == Phase::WebSocket) {
      if (session_.canSubscribe(channel->name)) {
        replySubscribed(id, batched, *channel, std::nullopt);
      } else {
        replyJoinError(id, batched, channel->name, "forbidden", kRevokedMessage);
      }
    }
    return;  // the pin lets go of the channel
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
  frontend().subscriberJoined(*channel, *this);
  if (frontend().config().logLevel == "trace") spdlog::trace("{} live on {}", user(), channel->name);
}

void Connection::replySubscribed(int64_t id, bool batched, const Channel& channel, std::optional<bool> recovered) {
  std::string out;
  JsonWriter writer(out);
  writer.beginObject().key("op").string("ok").key("id").integer(id);
  if (batched) writer.key("ch").string(channel.name);
  writer.key("epoch").string(formatEpoch(channel.epoch))
      .key("seq").uinteger(channel.lastSeq);
  if (recovered) writer.key("recovered").boolean(*recovered);  // only when `since` was sent
  writeSubCursors(writer, id, channel.name);
  writer.endObject();
  subAnswered(id);
  sendText(out);
}

// A join that could not complete: `unavailable` on a WebSocket (the client subscribes again); an
// event stream has no reply to carry it, so it ends and the client reconnects and resumes. The
// caller's pin lets go of the channel.
void Connection::abandonJoin(int64_t id, bool batched, Channel* channel, std::string_view why) {
  channels_.erase(channel);
  if (phase_ == Phase::Stream) {
    close(1011, why);
    return;
  }
  replyJoinError(id, batched, channel->name, "unavailable", why);
}

void Connection::replyJoinError(int64_t id, bool batched, std::string_view ch, std::string_view code,
                                std::string_view message) {
  subAnswered(id);
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

}  // namespace webim
