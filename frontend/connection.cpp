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
#include "frontend/rate_limit.h"

namespace webim {

// Every idle connection is this object and little else (docs/architecture.md "Budgets", ~450 B in all;
// docs/architecture.md "Memory per connection"): keep it from growing unnoticed.
static_assert(sizeof(Connection) <= 200);

namespace {
constexpr size_t kMaxWriteBufs = 64;  // buffers per sendmsg; the rest go in the next one
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

Connection* Connection::accept(Frontend& frontend, int fd) {
  auto* connection = new Connection(frontend, fd);
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

// ---- writing ----------------------------------------------------------------------------------

void Connection::send(SharedFrame frame, bool own) {
  if (phase_ == Phase::Closed || frame->empty()) return;
  // A reply of the client's own (or any frame while a replay of its own is on its way) may use the
  // allowance on top of the backlog limit; the replays themselves are paced (ReplayPacer).
  size_t limit = frontend().config().maxBacklogBytes + (own || replaying_ ? kOwnAllowance : 0);
  if ((phase_ == Phase::WebSocket || phase_ == Phase::Stream) && queuedBytes() + frame->size() > limit) {
    // The client cannot keep up; it is closed 4009 at the flush (never from inside a fan-out loop,
    // which would change the subscriber list under it) and may resume with `since` (docs/protocol.md).
    // An event stream the same: it ends, and the client resumes with Last-Event-ID.
    tooSlow_ = true;
    frontend().markDirty(this);
    return;
  }
  queueFrame(std::move(frame));
}

// Appends to this iteration's frames (no per-connection queue while idle); flushed at the end of
// the loop iteration, all frames ready for one socket in one sendmsg.
void Connection::queueFrame(SharedFrame frame) {
  size_t size = frame->size();
  frontend().metrics().messagesOut++;
  frontend().metrics().bytesOut += size;
  uint32_t index = frontend().appendPendingFrame(std::move(frame));
  if (pendingTail_ == kNoFrame) {
    pendingHead_ = index;
  } else {
    frontend().pendingFrame(pendingTail_).next = index;
  }
  pendingTail_ = index;
  pendingBytes_ += static_cast<uint32_t>(size);
  frontend().markDirty(this);
}

void Connection::dropPending() {
  pendingHead_ = pendingTail_ = kNoFrame;
  pendingBytes_ = 0;
}

void Connection::deliver(DeliveryFrames& frames, bool own) {
  switch (phase_) {
    case Phase::WebSocket:
      send(frames.webSocket(), own);
      break;
    case Phase::Stream:
      if (stream()->eventStream) {
        send(frames.eventStream(), own);
      } else {
        // One answer holds at most max_backlog_bytes (and one message): once full, nothing more
        // (of any channel, so none skips a seq); the client polls again from what it got.
        StreamState& s = *stream();
        if (s.pollFull) break;
        if (!s.poll.empty() && s.poll.size() + frames.json().size() > frontend().config().maxBacklogBytes) {
          s.pollFull = true;
          break;
        }
        if (!s.poll.empty()) s.poll.push_back(',');
        s.poll.append(frames.json());
        frontend().markDirty(this);  // answered at the end of this loop iteration
      }
      break;
    default:
      break;
  }
}

void Connection::deliverOwn(std::string_view channel, uint64_t epoch, uint64_t seq, std::string_view json) {
  DeliveryFrames frames(channel, epoch, seq, json);
  deliver(frames, true);
}

void Connection::sendReply(std::string_view json) {
  if (phase_ == Phase::WebSocket) {
    sendText(json);
  } else if (isCommand() && phase_ == Phase::Http) {
    finishHttp(withHeaders(httpResponse(200, "application/json", json), corsReply()));
  }
}

void Connection::sendText(std::string_view json) {
  if (json.empty()) return;
  send(webSocketTextFrame(json), true);
}

void Connection::flush() {
  flushQueued_ = false;
  if (StreamState* s = stream(); s && !s->eventStream && !s->poll.empty()) finishPoll();
  if (tooSlow_ && phase_ == Phase::Stream) {
    // An event stream that cannot keep up ends (no close frame to send): the client reconnects
    // and resumes with Last-Event-ID.
    dropPending();
    frontend().metrics().streamsTooSlow++;
    destroy();
    return;
  }
  if (tooSlow_ && phase_ == Phase::WebSocket) {
    dropPending();
    if (backlog_) {
      // Drop what waits, except the rest of a frame the socket took in part: the close frame must
      // follow whole frames.
      auto& queue = backlog_->queue;
      size_t keep = !queue.empty() && queue.front().offset > 0 ? 1 : 0;
      queue.erase(queue.begin() + static_cast<std::ptrdiff_t>(keep), queue.end());
      backlog_->bytes = keep ? queue.front().remaining() : 0;
    }
    close(4009, "too slow");
  }
  if (phase_ == Phase::Closed) {
    dropPending();
    return;
  }
  // This iteration's frames go behind whatever is already backed up.
  std::vector<OutChunk>& out = backlog_ ? backlog_->queue : frontend().writeScratch();
  if (!backlog_) out.clear();
  for (uint32_t i = pendingHead_; i != kNoFrame;) {
    PendingFrame& pending = frontend().pendingFrame(i);
    out.push_back({std::move(pending.frame), 0});
    i = pending.next;
  }
  if (backlog_) backlog_->bytes += pendingBytes_;
  dropPending();
  if (backlog_ && backlog_->waiting) return;  // they follow when the socket drains
  size_t first = 0;
  size_t written = 0;
  if (!writeOut(out, first, written)) {
    if (!backlog_) out.clear();
    destroy();
    return;
  }
  if (first == out.size()) {
    out.clear();
    if (backlog_) {
      backlog_.reset();  // no write queue while idle
      watch(false);
    }
    if (replaying_) frontend().replayPacer().drained(this);
    afterFlushed();
    return;
  }
  // The socket is backed up: keep the rest until it drains (a writable event).
  if (!backlog_) {
    auto backlog = std::make_unique<Backlog>();
    backlog->queue.assign(std::make_move_iterator(out.begin() + static_cast<std::ptrdiff_t>(first)),
                          std::make_move_iterator(out.end()));
    out.clear();
    for (const OutChunk& chunk : backlog->queue) backlog->bytes += chunk.remaining();
    backlog->stalledSinceMs = frontend().nowMs();
    backlog_ = std::move(backlog);
    watch(true);
    if (phase_ == Phase::WebSocket) armWebSocketDeadline();
    if (phase_ == Phase::Stream) armStreamDeadline();
  } else {
    backlog_->queue.erase(backlog_->queue.begin(), backlog_->queue.begin() + static_cast<std::ptrdiff_t>(first));
    backlog_->bytes -= written;
    if (written > 0) backlog_->stalledSinceMs = frontend().nowMs();  // the write timeout counts from the last progress
  }
  backlog_->waiting = true;
  if (replaying_ && backlog_->bytes <= ReplayPacer::kLowWaterBytes) frontend().replayPacer().drained(this);
}

// Writes out[first...] with sendmsg, kMaxWriteBufs buffers at a time, until everything is written
// or the socket takes no more; advances `first` past what was written whole and adds the bytes to
// `written`. False if the socket failed.
bool Connection::writeOut(std::vector<OutChunk>& out, size_t& first, size_t& written) {
  while (first < out.size()) {
    iovec iov[kMaxWriteBufs];
    size_t count = std::min(out.size() - first, kMaxWriteBufs);
    size_t offered = 0;
    for (size_t i = 0; i < count; ++i) {
      const OutChunk& chunk = out[first + i];
      iov[i] = {const_cast<char*>(chunk.frame->data() + chunk.offset), chunk.remaining()};
      offered += chunk.remaining();
    }
    msghdr message{};
    message.msg_iov = iov;
    message.msg_iovlen = count;
    ssize_t n = ::sendmsg(fd_, &message, MSG_NOSIGNAL);  // no SIGPIPE from a peer that went away
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    size_t left = static_cast<size_t>(n);
    written += left;
    while (left > 0) {
      OutChunk& chunk = out[first];
      size_t remaining = chunk.remaining();
      if (left >= remaining) {
        left -= remaining;
        chunk.frame.reset();
        ++first;
      } else {
        chunk.offset += left;
        left = 0;
      }
    }
    if (static_cast<size_t>(n) < offered) return true;  // full
  }
  return true;
}

void Connection::afterFlushed() {
  if (!shutdownAfterFlush_ || phase_ == Phase::Closed) return;
  shutdownAfterFlush_ = false;
  // Send FIN and keep reading until the peer's EOF (or the close deadline), so that the peer
  // reads our last bytes before the socket goes away (closing with unread input would send RST).
  if (::shutdown(fd_, SHUT_WR) != 0) destroy();
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

void Connection::destroy() {
  if (phase_ == Phase::Closed) return;
  phase_ = Phase::Closed;
  stopAll();
  frontend().wheel().cancel(*this);
  Metrics& metrics = frontend().metrics();
  metrics.connectionsOpen--;
  if (countedWebSocket_) {
    metrics.websocketsOpen--;
    metrics.closesByCode[closeCode_]++;
  }
  if (session_.active()) metrics.authenticated--;
  if (countedUser_) frontend().userCounts().remove(session_.user);
  if (countedAddress_) {
    auto& addresses = frontend().countedAddresses();
    if (auto it = addresses.find(this); it != addresses.end()) {
      frontend().addressCounts().remove(it->second);
      addresses.erase(it);
    }
  }
  // Out of the epoll set and closed now; the object lives until the end of this loop iteration
  // (events of this batch, the dirty list may still name it).
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
  const FrontendConfig& config = frontend().config();
  uint64_t now = frontend().nowMs();
  if (now >= authOrExpiryMs_) {
    // Before auth: the auth deadline; after: the token's expiry (a fresh auth moves it).
    close(4001, session_.active() ? "token expired" : "auth timeout");
    return;
  }
  uint64_t stalledSince = backlog_ ? backlog_->stalledSinceMs : 0;
  if (stalledSince != 0 && now >= stalledSince + config.writeTimeoutMs) {
    // A close frame would wait behind the stalled bytes: drop the connection, counted as too slow.
    closeCode_ = 4009;
    destroy();
    return;
  }
  if (pongDeadlineMs_ != 0) {
    if (lastReadMs_ + config.pongTimeoutMs >= pongDeadlineMs_) {
      pongDeadlineMs_ = 0;  // something arrived after the ping: alive
    } else if (now >= pongDeadlineMs_) {
      spdlog::debug("connection {} did not answer a ping", session_.active() ? session_.user : "-");
      destroy();  // gone silent; it cannot read a close frame either
      return;
    }
  }
  if (pongDeadlineMs_ == 0 && now >= lastReadMs_ + config.pingIntervalMs) {
    send(std::make_shared<const std::string>(encodeFrame(WsOpcode::Ping, {})));
    pongDeadlineMs_ = now + config.pongTimeoutMs;
  }
  armWebSocketDeadline();
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

void Connection::armWebSocketDeadline() {
  const FrontendConfig& config = frontend().config();
  uint64_t next = authOrExpiryMs_;
  next = std::min(next, pongDeadlineMs_ != 0 ? pongDeadlineMs_ : lastReadMs_ + config.pingIntervalMs);
  if (backlog_ && backlog_->stalledSinceMs != 0) next = std::min(next, backlog_->stalledSinceMs + config.writeTimeoutMs);
  setDeadline(next);
}

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
