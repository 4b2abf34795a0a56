#include "frontend/connection.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/websocket_handshake.h"
#include "frontend/channel_index.h"
#include "frontend/frontend.h"

namespace webim {

namespace {
constexpr size_t kMaxWriteBufs = 64;  // buffers per writev; the rest go in the next one
}  // namespace

JoinWait::JoinWait(Channel& channel, PendingOp*& ownerList, TimerWheel& wheel, uint64_t deadlineMs)
    : channel_(&channel) {
  channel.catchUp().joiners.push_back(this);
  linkToOwner(ownerList);
  armDeadline(wheel, deadlineMs);
}

void JoinWait::detach() noexcept {
  auto& joiners = channel_->catchUp().joiners;
  joiners.erase(std::remove(joiners.begin(), joiners.end(), this), joiners.end());
  channel_->trimCatchUp();
}

Connection::Connection(Frontend& frontend) : frontend_(frontend), ws_(&frontend.wsLimits()) {
  deadline_.connection = this;
  deadline_.fire = [](TimerNode* node) { static_cast<DeadlineNode*>(node)->connection->onDeadline(); };
}

Connection* Connection::accept(Frontend& frontend, uv_stream_t* server) {
  auto* connection = new Connection(frontend);
  uv_tcp_init(frontend.loop(), &connection->tcp_);
  connection->tcp_.data = connection;
  int rc = uv_accept(server, reinterpret_cast<uv_stream_t*>(&connection->tcp_));
  if (rc != 0) {
    spdlog::warn("accept failed: {}", uv_strerror(rc));
    connection->phase_ = Phase::Closed;
    uv_close(reinterpret_cast<uv_handle_t*>(&connection->tcp_), onCloseCb);
    return nullptr;
  }
  uv_tcp_nodelay(&connection->tcp_, 1);
  frontend.link(connection);
  frontend.metrics().connectionsAccepted++;
  frontend.metrics().connectionsOpen++;
  connection->http_ = std::make_unique<HttpRequestParser>();
  connection->setDeadline(frontend.nowMs() + frontend.config().handshakeTimeoutMs);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&connection->tcp_), onAlloc, onReadCb);
  return connection;
}

// ---- reading ----------------------------------------------------------------------------------

void Connection::onAlloc(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
  *buf = static_cast<Connection*>(handle->data)->frontend_.readBuffer();
}

void Connection::onReadCb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  static_cast<Connection*>(stream->data)->onRead(nread, buf);
}

void Connection::onRead(ssize_t nread, const uv_buf_t* buf) {
  if (nread == 0) return;  // EAGAIN
  if (nread < 0) {
    // EOF or error: a closing connection has its answer; any other just dropped (1006).
    destroy();
    return;
  }
  std::string_view bytes(buf->base, static_cast<size_t>(nread));
  lastReadMs_ = frontend_.nowMs();
  switch (phase_) {
    case Phase::Http:
      onHttpBytes(bytes);
      break;
    case Phase::WebSocket:
      ws_.consume(bytes, *this);
      if (phase_ == Phase::WebSocket && ws_.idle()) ws_.releaseBuffers();
      break;
    case Phase::Stream:
      break;  // an event stream only sends; whatever the client writes is ignored
    case Phase::Closing:
      // Waiting for the peer's close frame or EOF; a close frame ends the wait early.
      if (!closeSent_) break;
      ws_.consume(bytes, *this);
      break;
    case Phase::Closed:
      break;
  }
}

void Connection::refuse() {
  // Over the connection cap: a clear answer, then close (browsers back off on 503).
  finishHttp(httpResponse(503, "text/plain", "too many connections, retry later\n"));
}

void Connection::finishHttp(std::string response) {
  // An answered exchange holds no subscription and waits for nothing.
  PendingOp::cancelAll(pending_);
  leaveAll();
  http_.reset();
  send(std::make_shared<const std::string>(std::move(response)));
  phase_ = Phase::Closing;
  closeCode_ = 0;  // not a WebSocket: not counted by close code
  shutdownAfterFlush_ = true;
  setDeadline(frontend_.nowMs() + frontend_.config().closeTimeoutMs);
}

// ---- writing ----------------------------------------------------------------------------------

void Connection::send(SharedFrame frame, bool own) {
  if (phase_ == Phase::Closed || frame->empty()) return;
  size_t limit = frontend_.config().maxBacklogBytes + (own ? kOwnAllowance : 0);
  if (phase_ == Phase::WebSocket && queuedBytes() + frame->size() > limit) {
    // The client cannot keep up; it is closed 4009 at the flush (never from inside a fan-out loop,
    // which would change the subscriber list under it) and may resume with `since` (PROTOCOL.md).
    tooSlow_ = true;
    frontend_.markDirty(this);
    return;
  }
  queueFrame(std::move(frame));
}

// Appends to this iteration's frames (no per-connection queue while idle); flushed at the end of
// the loop iteration, all frames ready for one socket in one writev.
void Connection::queueFrame(SharedFrame frame) {
  size_t size = frame->size();
  frontend_.metrics().messagesOut++;
  frontend_.metrics().bytesOut += size;
  uint32_t index = frontend_.appendPendingFrame(std::move(frame));
  if (pendingTail_ == kNoFrame) {
    pendingHead_ = index;
  } else {
    frontend_.pendingFrame(pendingTail_).next = index;
  }
  pendingTail_ = index;
  pendingBytes_ += static_cast<uint32_t>(size);
  frontend_.markDirty(this);
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
      if (stream_->eventStream) {
        send(frames.eventStream(), own);
      } else {
        if (!stream_->poll.empty()) stream_->poll.push_back(',');
        stream_->poll.append(frames.json());
        frontend_.markDirty(this);  // answered at the end of this loop iteration
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
  flushQueued = false;
  if (stream_ && !stream_->eventStream && !stream_->poll.empty()) finishPoll();
  if (tooSlow_ && phase_ == Phase::WebSocket) {
    dropPending();
    if (backlog_) {
      for (const OutChunk& chunk : backlog_->queue) backlog_->bytes -= chunk.remaining();
      backlog_->queue.clear();
    }
    close(4009, "too slow");
  }
  if (phase_ == Phase::Closed) {
    dropPending();
    return;
  }
  // This iteration's frames go behind whatever is already backed up.
  std::vector<OutChunk>& out = backlog_ ? backlog_->queue : frontend_.writeScratch();
  if (!backlog_) out.clear();
  for (uint32_t i = pendingHead_; i != kNoFrame;) {
    PendingFrame& pending = frontend_.pendingFrame(i);
    out.push_back({std::move(pending.frame), 0});
    i = pending.next;
  }
  if (backlog_) backlog_->bytes += pendingBytes_;
  dropPending();
  if (backlog_ && backlog_->inflight != nullptr) return;  // they follow when libuv's write completes
  // Write what the socket takes now, kMaxWriteBufs buffers per writev.
  size_t first = 0;
  bool backedUp = false;
  while (first < out.size() && !backedUp) {
    uv_buf_t bufs[kMaxWriteBufs];
    size_t count = std::min(out.size() - first, kMaxWriteBufs);
    size_t offered = 0;
    for (size_t i = 0; i < count; ++i) {
      const OutChunk& chunk = out[first + i];
      bufs[i] = uv_buf_init(const_cast<char*>(chunk.frame->data() + chunk.offset),
                            static_cast<unsigned>(chunk.remaining()));
      offered += chunk.remaining();
    }
    int written = uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), bufs, static_cast<unsigned>(count));
    if (written == UV_EAGAIN) written = 0;
    if (written < 0) {
      if (!backlog_) out.clear();
      destroy();
      return;
    }
    size_t left = static_cast<size_t>(written);
    if (backlog_) backlog_->bytes -= left;
    backedUp = left < offered;
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
  }
  if (first == out.size()) {
    out.clear();
    backlog_.reset();  // no write queue while idle
    afterFlushed();
    return;
  }
  // The socket is backed up: keep the rest and hand it to libuv, which writes it as it drains.
  if (!backlog_) {
    auto backlog = std::make_unique<Backlog>();
    backlog->queue.assign(std::make_move_iterator(out.begin() + static_cast<std::ptrdiff_t>(first)),
                          std::make_move_iterator(out.end()));
    out.clear();
    for (const OutChunk& chunk : backlog->queue) backlog->bytes += chunk.remaining();
    backlog_ = std::move(backlog);
  } else {
    backlog_->queue.erase(backlog_->queue.begin(), backlog_->queue.begin() + static_cast<std::ptrdiff_t>(first));
  }
  writeBacklog();
}

void Connection::writeBacklog() {
  auto* request = new WriteRequest;
  request->req.data = this;
  request->chunks.swap(backlog_->queue);
  std::vector<uv_buf_t> bufs;
  bufs.reserve(request->chunks.size());
  for (const OutChunk& chunk : request->chunks) {
    bufs.push_back(uv_buf_init(const_cast<char*>(chunk.frame->data() + chunk.offset),
                               static_cast<unsigned>(chunk.remaining())));
  }
  backlog_->inflight = request;
  if (backlog_->stalledSinceMs == 0) {
    backlog_->stalledSinceMs = frontend_.nowMs();
    if (phase_ == Phase::WebSocket) armWebSocketDeadline();
  }
  int rc = uv_write(&request->req, reinterpret_cast<uv_stream_t*>(&tcp_), bufs.data(),
                    static_cast<unsigned>(bufs.size()), onWriteCb);
  if (rc != 0) {
    backlog_->inflight = nullptr;
    delete request;
    destroy();
  }
}

void Connection::onWriteCb(uv_write_t* req, int status) {
  auto* request = reinterpret_cast<WriteRequest*>(req);
  static_cast<Connection*>(req->data)->onWritten(request, status);
}

void Connection::onWritten(WriteRequest* request, int status) {
  for (const OutChunk& chunk : request->chunks) backlog_->bytes -= chunk.remaining();
  backlog_->inflight = nullptr;
  delete request;
  if (status < 0) {
    destroy();  // no-op when the handle is already closing (UV_ECANCELED)
    return;
  }
  backlog_->stalledSinceMs = 0;  // libuv drained what it held; a new stall starts its own clock
  flush();                       // what queued meanwhile, or done
}

void Connection::afterFlushed() {
  if (!shutdownAfterFlush_ || phase_ == Phase::Closed) return;
  shutdownAfterFlush_ = false;
  // Send FIN and keep reading until the peer's EOF (or the close deadline), so that the peer
  // reads our last bytes before the socket goes away (closing with unread input would send RST).
  auto* req = new uv_shutdown_t;
  if (uv_shutdown(req, reinterpret_cast<uv_stream_t*>(&tcp_), onShutdownCb) != 0) {
    delete req;
    destroy();
  }
}

void Connection::onShutdownCb(uv_shutdown_t* req, int /*status*/) { delete req; }

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
      PendingOp::cancelAll(pending_);
      leaveAll();
      shutdownAfterFlush_ = true;
      frontend_.markDirty(this);
      setDeadline(frontend_.nowMs() + frontend_.config().closeTimeoutMs);
    }
    return;
  }
  spdlog::debug("closing connection {} with {} ({})", session_ ? session_->user : "-", code, reason);
  closeCode_ = code;
  phase_ = Phase::Closing;
  closeSent_ = true;
  queueFrame(std::make_shared<const std::string>(encodeCloseFrame(code, reason)));  // past any limit
  shutdownAfterFlush_ = true;
  setDeadline(frontend_.nowMs() + frontend_.config().closeTimeoutMs);
  // Nothing the client asked for completes after we decided to close.
  PendingOp::cancelAll(pending_);
  leaveAll();
}

void Connection::destroy() {
  if (phase_ == Phase::Closed) return;
  phase_ = Phase::Closed;
  PendingOp::cancelAll(pending_);
  leaveAll();
  frontend_.wheel().cancel(deadline_);
  Metrics& metrics = frontend_.metrics();
  metrics.connectionsOpen--;
  if (countedWebSocket_) {
    metrics.websocketsOpen--;
    metrics.closesByCode[closeCode_]++;
  }
  if (session_) metrics.authenticated--;
  frontend_.unlink(this);
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), onCloseCb);
}

void Connection::onCloseCb(uv_handle_t* handle) {
  // Pending writes were cancelled (their callbacks ran) before this callback.
  delete static_cast<Connection*>(handle->data);
}

void Connection::setDeadline(uint64_t deadlineMs) { frontend_.wheel().schedule(deadline_, deadlineMs); }

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
      uint64_t now = frontend_.nowMs();
      if (now >= authOrExpiryMs_) {
        close(1000, "session expired or poll timeout");  // a long-poll answers what it has: []
        return;
      }
      send(std::make_shared<const std::string>(": keepalive\n\n"));  // SSE comment line
      setDeadline(std::min(authOrExpiryMs_, now + frontend_.config().sseKeepaliveMs));
      return;
    }
    case Phase::WebSocket:
      break;
  }
  const FrontendConfig& config = frontend_.config();
  uint64_t now = frontend_.nowMs();
  if (now >= authOrExpiryMs_) {
    // Before auth: the auth deadline; after: the token's expiry (a fresh auth moves it).
    close(4001, session_ ? "token expired" : "auth timeout");
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
      spdlog::debug("connection {} did not answer a ping", session_ ? session_->user : "-");
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

void Connection::armWebSocketDeadline() {
  const FrontendConfig& config = frontend_.config();
  uint64_t next = authOrExpiryMs_;
  next = std::min(next, pongDeadlineMs_ != 0 ? pongDeadlineMs_ : lastReadMs_ + config.pingIntervalMs);
  if (backlog_ && backlog_->stalledSinceMs != 0) next = std::min(next, backlog_->stalledSinceMs + config.writeTimeoutMs);
  setDeadline(next);
}

// Token bucket in thousandths of a request, refilled lazily from the elapsed time.
bool Connection::takeRateToken() {
  const FrontendConfig& config = frontend_.config();
  uint64_t now = frontend_.nowMs();
  uint64_t refill = (now - rateRefillMs_) * config.rateLimit;  // ms * req/s = thousandths
  uint64_t cap = uint64_t{config.rateBurst} * 1000;
  rateTokensMilli_ = static_cast<uint32_t>(std::min<uint64_t>(cap, rateTokensMilli_ + refill));
  rateRefillMs_ = now;
  if (rateTokensMilli_ < 1000) return false;
  rateTokensMilli_ -= 1000;
  return true;
}

void Connection::countForbidden() {
  if (++forbidden_ >= frontend_.config().maxForbidden) close(4003, "too many forbidden requests");
}

void Connection::leaveAll() {
  for (Channel* channel : channels_) frontend_.leaveChannel(channel, this);
  channels_.clear();
  channels_.shrink_to_fit();
}

// ---- WebSocket events -------------------------------------------------------------------------

void Connection::onMessage(WsOpcode opcode, std::string_view payload) {
  if (phase_ != Phase::WebSocket) return;
  if (opcode != WsOpcode::Text) {
    close(1003, "binary frames are not supported");
    return;
  }
  frontend_.metrics().messagesIn++;
  if (!takeRateToken()) {
    close(4008, "rate limited");
    return;
  }
  handleRequest(payload);
}

void Connection::onPing(std::string_view payload) {
  if (phase_ == Phase::WebSocket) send(std::make_shared<const std::string>(encodeFrame(WsOpcode::Pong, payload)));
}

void Connection::onPong(std::string_view /*payload*/) {}

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
