#include "frontend/connection.h"

#include <spdlog/spdlog.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "common/websocket_handshake.h"
#include "frontend/channel_index.h"
#include "frontend/frontend.h"
#include "frontend/liveness.h"
#include "frontend/rate_limit.h"

namespace webim {

// Every idle connection is this object and little else (docs/architecture.md "Budgets": ~450 B per
// idle connection in the frontend; "Memory per connection"): keep it from growing unnoticed.
static_assert(sizeof(Connection) <= 200);

namespace {
// The loop's shared frame parser keeps a message buffer up to this size for the next connection.
constexpr size_t kSharedParserKeepBytes = 64 * 1024;
}  // namespace

// The parser's callbacks, routed to the connection (so the connection itself carries no vtable).
class WsEvents final : public WsFrameHandler {
 public:
  explicit WsEvents(Connection& connection) : connection_(connection) {}
  void onMessage(WsOpcode opcode, std::string_view payload) override { connection_.onMessage(opcode, payload); }
  void onPing(std::string_view payload) override { connection_.onPing(payload); }
  void onPong(std::string_view /*payload*/) override {}
  void onClose(uint16_t code, std::string_view reason) override { connection_.onClose(code, reason); }
  void onProtocolError(uint16_t closeCode, const char* why) override { connection_.onProtocolError(closeCode, why); }

 private:
  Connection& connection_;
};

Connection::Connection(Frontend& frontend, int fd) : frontend_(frontend), fd_(fd) {
  fire = [](TimerNode* node) { static_cast<Connection*>(node)->onDeadline(); };
}

Connection* Connection::accept(Frontend& frontend, int fd, bool privateListener) {
  auto* connection = new Connection(frontend, fd);
  connection->privateListener_ = privateListener;
  if (!frontend.sockets().add(connection, fd)) {
    spdlog::warn("accept: cannot watch the socket: {}", strerror(errno));
    ::close(fd);
    delete connection;
    return nullptr;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  frontend.metrics().connectionsAccepted++;
  frontend.metrics().connectionsOpen++;
  if (privateListener) frontend.metrics().privateOpen++;
  connection->http_ = std::make_unique<HeadState>();
  connection->setDeadline(frontend.nowMs() + frontend.config().handshakeTimeoutMs);
  return connection;
}

// Readable always; writable only while a backlog waits for the socket to drain.
void Connection::watch(bool writable) { frontend().sockets().watch(this, fd_, writable); }

void Connection::onEvents(uint32_t events) {
  if (phase_ == Phase::Closed) return;  // destroyed earlier in this batch of events
  if (events & EPOLLERR) {
    destroy();  // the socket failed (reset by the peer, ...): dropped (1006)
    return;
  }
  if ((events & EPOLLOUT) && backlog_) {
    backlog_->waiting = false;
    flush();
  }
  if ((events & (EPOLLIN | EPOLLHUP)) && phase_ != Phase::Closed) onReadable();
}

// ---- reading ----------------------------------------------------------------------------------

void Connection::onReadable() {
  // Into the loop's one buffer. A few buffers per wakeup at most, so one fast sender cannot hold the
  // loop; the poll is level-triggered and comes back for the rest.
  uv_buf_t buffer = frontend().readBuffer();
  for (int reads = 0; reads < 4 && phase_ != Phase::Closed; ++reads) {
    ssize_t n = ::read(fd_, buffer.base, buffer.len);
    if (n > 0) {
      onBytes(std::string_view(buffer.base, static_cast<size_t>(n)));
      if (static_cast<size_t>(n) < buffer.len) return;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;
    } else {
      // EOF or error: a closing connection has its answer; any other just dropped (1006).
      destroy();
      return;
    }
  }
}

void Connection::onBytes(std::string_view bytes) {
  lastReadMs_ = frontend().nowMs();
  switch (phase_) {
    case Phase::Http:
      onHttpBytes(bytes);
      break;
    case Phase::WebSocket:
      onWebSocketBytes(bytes);
      break;
    case Phase::Stream:
      break;  // an event stream only sends; whatever the client writes is ignored
    case Phase::Closing:
      // Waiting for the peer's close frame or EOF; a close frame ends the wait early.
      if (closeSent_) onWebSocketBytes(bytes);
      break;
    case Phase::Closed:
      break;
  }
}

// Between frames the loop's parser serves every connection; only a frame or message split across
// reads gets its own parser state, until it completes.
void Connection::onWebSocketBytes(std::string_view bytes) {
  if (wsFinished_) return;
  WsFrameParser& shared = frontend().wsParser();
  WsFrameParser& parser = ws_ ? *ws_ : shared;
  WsEvents events(*this);
  parser.consume(bytes, events);
  if (parser.finished()) wsFinished_ = true;
  bool idle = parser.idle();
  if (&parser == &shared) {
    if (!idle && !wsFinished_ && phase_ != Phase::Closed) {
      ws_ = std::make_unique<WsFrameParser>(std::move(shared));
    }
    if (!idle || wsFinished_ || shared.bufferCapacity() > kSharedParserKeepBytes) shared = WsFrameParser(&frontend().wsLimits());
  } else if (idle || wsFinished_) {
    ws_.reset();
  }
}

void Connection::refuse() {
  // Over the connection cap: a clear answer, then close (browsers back off on 503).
  finishHttp(httpResponse(503, "text/plain", "too many connections, retry later\n"));
}

void Connection::finishHttp(std::string response) {
  uncountStream();
  // An answered exchange holds no subscription and waits for nothing.
  stopAll();
  http_.reset();
  if (headRequest_) response = withoutBody(std::move(response));
  send(std::make_shared<const std::string>(std::move(response)));
  phase_ = Phase::Closing;
  closeCode_ = 0;  // not a WebSocket: not counted by close code
  shutdownAfterFlush_ = true;
  setDeadline(frontend().nowMs() + frontend().config().closeTimeoutMs);
}

// ---- closing ----------------------------------------------------------------------------------

void Connection::close(uint16_t code, std::string_view reason) {
  if (phase_ == Phase::Closed || phase_ == Phase::Closing) return;
  if (phase_ == Phase::Http) {
    destroy();
    return;
  }
  if (phase_ == Phase::Stream) {  // the HTTP fallback's stream: end it (the client reconnects)
    closeCode_ = code;
    finishPoll();
    if (phase_ == Phase::Stream) {
      uncountStream();
      phase_ = Phase::Closing;
      stopAll();
      shutdownAfterFlush_ = true;
      frontend().markDirty(this);
      setDeadline(frontend().nowMs() + frontend().config().closeTimeoutMs);
    }
    return;
  }
  spdlog::debug("closing connection {} with {} ({})", session_.active() ? session_.user : "-", code, reason);
  closeCode_ = code;
  phase_ = Phase::Closing;
  closeSent_ = true;
  queueFrame(std::make_shared<const std::string>(encodeCloseFrame(code, reason)));  // past any limit
  shutdownAfterFlush_ = true;
  setDeadline(frontend().nowMs() + frontend().config().closeTimeoutMs);
  // Nothing the client asked for completes after we decided to close.
  stopAll();
}

void Connection::cancelWaits() {
  if (replaying_) {
    frontend().replayPacer().forget(this);  // the waits themselves are in pending_
    replaying_ = false;
  }
  PendingOp::cancelAll(pending_);
}

void Connection::endReplayTurn() {
  if (!frontend().replayPacer().endTurn(this)) replaying_ = false;
}

// The transport gauges (webim_event_streams, webim_long_polls) count the connections in Stream.
void Connection::uncountStream() {
  if (phase_ != Phase::Stream || stream() == nullptr) return;
  Metrics& metrics = frontend().metrics();
  (stream()->eventStream ? metrics.eventStreams : metrics.longPolls)--;
}

void Connection::destroy() {
  if (phase_ == Phase::Closed) return;
  uncountStream();
  phase_ = Phase::Closed;
  stopAll();
  frontend().wheel().cancel(*this);
  Metrics& metrics = frontend().metrics();
  metrics.connectionsOpen--;
  if (privateListener_) metrics.privateOpen--;
  if (countedWebSocket_) {
    metrics.websocketsOpen--;
    metrics.closesByCode[closeCode_]++;
  }
  if (session_.active()) metrics.authenticated--;
  if (countedUser_) {
    frontend().userCounts().remove(session_.user);
    if (frontend().userCounts().count(session_.user) == 0) frontend().userPresenceChanged(session_.user);
  }
  if (countedAddress_) {
    auto& addresses = frontend().countedAddresses();
    if (auto it = addresses.find(this); it != addresses.end()) {
      frontend().addressCounts().remove(it->second);
      addresses.erase(it);
    }
  }
  // Out of the epoll set and closed now; the object lives until the end of this loop iteration
  // (events of this batch, the dirty list may still name it).
  frontend().clearWatches(fd_);
  frontend().forgetConnection(this, fd_);
  ::close(fd_);
}

void Connection::setDeadline(uint64_t deadlineMs) { frontend().wheel().schedule(*this, deadlineMs); }

void Connection::onDeadline() {
  switch (phase_) {
    case Phase::Http:
      destroy();  // the request head did not arrive in time
      return;
    case Phase::Closing:
    case Phase::Closed:
      destroy();  // the peer did not answer our close in time
      return;
    case Phase::Stream: {
      uint64_t now = frontend().nowMs();
      if (backlog_ && backlog_->stalledSinceMs != 0 && now >= backlog_->stalledSinceMs + frontend().config().writeTimeoutMs) {
        frontend().metrics().streamsTooSlow++;  // a write stalled: dropped, like a WebSocket (4009)
        logEvent(LogEvent::SlowConsumerClose, "closed: too slow (a write stalled)", {{"why", "write_stalled"}});
        destroy();
        return;
      }
      if (now >= authOrExpiryMs_) {
        close(1000, "session expired or poll timeout");  // a long-poll answers what it has: []
        return;
      }
      if (stream()->eventStream) send(std::make_shared<const std::string>(": keepalive\n\n"));  // SSE comment line
      armStreamDeadline();
      return;
    }
    case Phase::WebSocket:
      break;
  }
  const uint64_t now = frontend().nowMs();
  LivenessTimes times = livenessTimes();
  const Liveness verdict = checkLiveness(now, times, livenessLimits());
  pongDeadlineMs_ = times.pongDeadlineMs;
  switch (verdict) {
    case Liveness::Expired:
      // Before auth: the auth deadline; after: the token's expiry (a fresh auth moves it).
      close(4001, session_.active() ? "token expired" : "auth timeout");
      return;
    case Liveness::Stalled:
      // A close frame would wait behind the stalled bytes: drop the connection, counted as too slow.
      closeCode_ = 4009;
      logEvent(LogEvent::SlowConsumerClose, "closed: too slow (a write stalled)",
               {{"code", 4009}, {"why", "write_stalled"}});
      destroy();
      return;
    case Liveness::Silent:
      spdlog::debug("connection {} did not answer a ping", session_.active() ? session_.user : "-");
      destroy();  // gone silent; it cannot read a close frame either
      return;
    case Liveness::PingDue:
      send(std::make_shared<const std::string>(encodeFrame(WsOpcode::Ping, {})));
      pongDeadlineMs_ = pongDeadline(now, livenessLimits());
      break;
    case Liveness::Alive:
      break;
  }
  armWebSocketDeadline();
}

LivenessTimes Connection::livenessTimes() const noexcept {
  return {authOrExpiryMs_, lastReadMs_, pongDeadlineMs_, backlog_ ? backlog_->stalledSinceMs : 0};
}

LivenessLimits Connection::livenessLimits() const noexcept {
  const FrontendConfig& config = frontend().config();
  return {config.pingIntervalMs, config.pongTimeoutMs, config.writeTimeoutMs};
}

// An event stream's next check: its end (session expiry, poll timeout), the next SSE keepalive, and
// a stalled write's timeout.
void Connection::armStreamDeadline() {
  const FrontendConfig& config = frontend().config();
  uint64_t next = authOrExpiryMs_;
  if (stream() && stream()->eventStream) next = std::min(next, frontend().nowMs() + config.sseKeepaliveMs);
  if (backlog_ && backlog_->stalledSinceMs != 0) next = std::min(next, backlog_->stalledSinceMs + config.writeTimeoutMs);
  setDeadline(next);
}

void Connection::armWebSocketDeadline() { setDeadline(nextLivenessCheck(livenessTimes(), livenessLimits())); }

// The connection's own bucket (rate_limit, rate_burst): its two fields are apart in the layout.
bool Connection::takeRateToken() {
  const FrontendConfig& config = frontend().config();
  return takeToken(rateRefillMs_, rateTokensMilli_, frontend().nowMs(), config.rateLimit, config.rateBurst);
}

void Connection::countForbidden() {
  if (++forbidden_ >= frontend().config().maxForbidden) close(4003, "too many forbidden requests");
}

// Channels first: a cancelled join then drops the last pin of its channel, which removes it (were
// the waits cancelled first, the channel could go while still in channels_).
void Connection::stopAll() {
  leaveAll();
  cancelWaits();
}

void Connection::leaveAll() {
  for (Channel* channel : channels_) frontend().stream().leave(channel, this);
  channels_.clear();
}

// ---- WebSocket events -------------------------------------------------------------------------

void Connection::onMessage(WsOpcode opcode, std::string_view payload) {
  if (phase_ != Phase::WebSocket) return;
  if (opcode != WsOpcode::Text) {
    close(1003, "binary frames are not supported");
    return;
  }
  frontend().metrics().messagesIn++;
  if (!takeRateToken()) {
    frontend().metrics().rateLimited++;
    logEvent(LogEvent::RateLimitClose, "closed: over the rate limit", {{"code", 4008}});
    close(4008, "rate limited");
    return;
  }
  handleRequest(payload);
}

void Connection::onPing(std::string_view payload) {
  if (phase_ == Phase::WebSocket) send(std::make_shared<const std::string>(encodeFrame(WsOpcode::Pong, payload)));
}

void Connection::onClose(uint16_t code, std::string_view /*reason*/) {
  if (phase_ == Phase::Closing) {
    destroy();  // the peer answered our close
    return;
  }
  // Echo the peer's close (RFC 6455 5.5.1), then shut down once it is written.
  closeCode_ = code;
  uint16_t echo = code == 1005 ? 1000 : code;
  close(echo, {});
  closeCode_ = code;
}

void Connection::onProtocolError(uint16_t closeCode, const char* why) { close(closeCode, why); }

}  // namespace webim
