#include "frontend/connection.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "common/channel_rules.h"
#include "common/websocket_handshake.h"
#include "frontend/channel_index.h"
#include "frontend/frontend.h"
#include "frontend/http_api.h"

namespace webim {

namespace {
constexpr size_t kMaxWriteBufs = 64;  // buffers per writev; the rest go in the next one
}  // namespace

JoinWait::JoinWait(Channel& channel, PendingOp*& ownerList, TimerWheel& wheel, uint64_t deadlineMs)
    : channel_(&channel) {
  channel.joiners.push_back(this);
  linkToOwner(ownerList);
  armDeadline(wheel, deadlineMs);
}

void JoinWait::detach() noexcept {
  auto& joiners = channel_->joiners;
  joiners.erase(std::remove(joiners.begin(), joiners.end(), this), joiners.end());
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
    case Phase::Closing:
      // Waiting for the peer's close frame or EOF; a close frame ends the wait early.
      if (!closeSent_) break;
      ws_.consume(bytes, *this);
      break;
    case Phase::Closed:
      break;
  }
}

void Connection::onHttpBytes(std::string_view bytes) {
  if (api_) {
    onApiBody(bytes);
    return;
  }
  if (!http_) return;  // answered; waiting for the peer to go
  HttpRequestParser::Result result = http_->consume(bytes);
  switch (result.status) {
    case HttpRequestParser::Status::NeedMore:
      return;
    case HttpRequestParser::Status::Error:
      spdlog::debug("bad HTTP request: {}", http_->errorReason());
      finishHttp(httpResponse(http_->errorStatus(), "text/plain", std::string(http_->errorReason()) + "\n"));
      return;
    case HttpRequestParser::Status::Done:
      serveHttp(http_->request(), bytes.substr(result.consumed));
      return;
  }
}

void Connection::serveHttp(const HttpRequest& request, std::string_view rest) {
  std::string_view path = request.path();
  if (path == "/ws") {
    HandshakeResult handshake = acceptWebSocket(request, frontend_.handshakePolicy());
    if (handshake.status != 101) {
      finishHttp(std::move(handshake.response));
      return;
    }
    http_.reset();
    phase_ = Phase::WebSocket;
    countedWebSocket_ = true;
    frontend_.metrics().websocketsOpen++;
    send(std::make_shared<const std::string>(std::move(handshake.response)));
    lastReadMs_ = frontend_.nowMs();
    authOrExpiryMs_ = lastReadMs_ + frontend_.config().authTimeoutMs;
    rateRefillMs_ = lastReadMs_;
    rateTokensMilli_ = frontend_.config().rateBurst * 1000;
    armWebSocketDeadline();
    // Frames pipelined behind the request head belong to the WebSocket.
    if (!rest.empty()) ws_.consume(rest, *this);
    return;
  }
  frontend_.metrics().httpRequests++;
  if (path.substr(0, 5) == "/api/") {
    startApi(request, rest);
    return;
  }
  if (request.method != "GET" && request.method != "HEAD") {
    finishHttp(httpResponse(405, "text/plain", "method not allowed\n"));
    return;
  }
  if (path == "/healthz") {
    finishHttp(httpResponse(200, "text/plain", "ok\n"));
    return;
  }
  if (path == "/metrics") {
    finishHttp(httpResponse(200, "text/plain; version=0.0.4", frontend_.renderMetrics()));
    return;
  }
  if (const StaticFile* file = frontend_.staticFile(path)) {
    finishHttp(httpResponse(200, file->contentType, file->body));
    return;
  }
  finishHttp(httpResponse(404, "text/plain", "not found\n"));
}

void Connection::refuse() {
  // Over the connection cap: a clear answer, then close (browsers back off on 503).
  finishHttp(httpResponse(503, "text/plain", "too many connections, retry later\n"));
}

namespace {
std::string apiError(std::string_view code, std::string_view message) {
  std::string out;
  JsonWriter(out).beginObject().key("ok").boolean(false).key("code").string(code).key("msg").string(message).endObject();
  return out;
}
}  // namespace

void Connection::startApi(const HttpRequest& request, std::string_view rest) {
  const char* kJson = "application/json";
  std::optional<std::string_view> op = apiOpForPath(request.path());
  if (!op) {
    finishHttp(httpResponse(404, kJson, apiError("not_found", "unknown API path")));
    return;
  }
  if (!frontend_.apiKeys().enabled()) {
    finishHttp(httpResponse(404, kJson, apiError("not_found", "the HTTP API is off (no --api-key-file)")));
    return;
  }
  if (request.method != "POST") {
    finishHttp(httpResponse(405, kJson, apiError("bad_request", "use POST")));
    return;
  }
  std::optional<std::string_view> authorization = request.header("Authorization");
  if (!authorization || !frontend_.apiKeys().accepts(*authorization)) {
    finishHttp(httpResponse(401, kJson, apiError("unauthorized", "missing or wrong API key")));
    return;
  }
  if (request.header("Transfer-Encoding")) {
    finishHttp(httpResponse(411, kJson, apiError("bad_request", "send Content-Length, not chunked")));
    return;
  }
  std::optional<std::string_view> lengthText = request.header("Content-Length");
  size_t length = 0;
  auto [end, ec] = lengthText ? std::from_chars(lengthText->data(), lengthText->data() + lengthText->size(), length)
                              : std::from_chars_result{nullptr, std::errc::invalid_argument};
  if (!lengthText || ec != std::errc() || end != lengthText->data() + lengthText->size()) {
    finishHttp(httpResponse(411, kJson, apiError("bad_request", "Content-Length is required")));
    return;
  }
  // The body is an app request whose data is at most a client message.
  if (length > frontend_.config().maxMessageBytes + 4096) {
    finishHttp(httpResponse(413, kJson, apiError("too_large", "request body too large")));
    return;
  }
  api_ = std::make_unique<ApiRequest>();
  api_->op.assign(*op);
  api_->length = length;
  api_->body.reserve(length);
  http_.reset();
  onApiBody(rest);
}

void Connection::onApiBody(std::string_view bytes) {
  if (!api_ || api_->body.size() >= api_->length) return;
  api_->body.append(bytes.substr(0, api_->length - api_->body.size()));
  if (api_->body.size() < api_->length) return;
  std::unique_ptr<ApiRequest> api = std::move(api_);
  api_ = std::make_unique<ApiRequest>();  // marks the body as read: later bytes are ignored
  api_->length = 0;
  apiCall(std::move(api->op), std::move(api->body));
}

Task Connection::apiCall(std::string op, std::string body) {
  wire::FrontendRequest request;
  request.mutable_app()->set_op(std::move(op));
  request.mutable_app()->set_json(std::move(body));
  HubCall call(frontend_.hub(), pending_, request, frontend_.nowMs() + frontend_.config().hubTimeoutMs);
  HubResult result = co_await call;
  if (result.status == WaitStatus::Cancelled) co_return;
  const char* kJson = "application/json";
  if (result.status != WaitStatus::Done) {
    finishHttp(httpResponse(503, kJson, apiError("unavailable", "the hub did not answer in time; retry with the same cid")));
    co_return;
  }
  if (result.reply.has_error()) {
    const wire::Error& e = result.reply.error();
    std::string json = apiError(e.code(), e.message());
    finishHttp(httpResponse(apiStatusForReply(json), kJson, json));
    co_return;
  }
  const std::string& json = result.reply.app_json();
  finishHttp(httpResponse(apiStatusForReply(json), kJson, json));
}

// A plain HTTP exchange ends with the response: write it, then close.
void Connection::finishHttp(std::string response) {
  http_.reset();
  send(std::make_shared<const std::string>(std::move(response)));
  phase_ = Phase::Closing;
  closeCode_ = 0;  // not a WebSocket: not counted by close code
  shutdownAfterFlush_ = true;
  setDeadline(frontend_.nowMs() + frontend_.config().closeTimeoutMs);
}

// ---- writing ----------------------------------------------------------------------------------

void Connection::send(SharedFrame frame) {
  if (phase_ == Phase::Closed || frame->empty()) return;
  size_t size = frame->size();
  if (phase_ == Phase::WebSocket && backlogBytes_ + size > frontend_.config().maxBacklogBytes) {
    // The client cannot keep up; it is closed 4009 at the flush (never from inside a fan-out loop,
    // which would change the subscriber list under it) and may resume with `since` (PROTOCOL.md).
    tooSlow_ = true;
    frontend_.markDirty(this);
    return;
  }
  backlogBytes_ += size;
  frontend_.metrics().messagesOut++;
  frontend_.metrics().bytesOut += size;
  queue_.push_back({std::move(frame), 0});
  frontend_.markDirty(this);
}

void Connection::sendText(std::string_view json) {
  if (json.empty()) return;
  auto frame = std::make_shared<std::string>();
  frame->resize(10 + json.size());
  size_t header = writeFrameHeader(reinterpret_cast<uint8_t*>(frame->data()), WsOpcode::Text, json.size());
  std::copy(json.begin(), json.end(), frame->begin() + static_cast<std::ptrdiff_t>(header));
  frame->resize(header + json.size());
  send(std::move(frame));
}

void Connection::flush() {
  flushQueued = false;
  if (tooSlow_ && phase_ == Phase::WebSocket) {
    for (const Chunk& chunk : queue_) backlogBytes_ -= chunk.frame->size() - chunk.offset;
    queue_.clear();
    close(4009, "too slow");
  }
  if (phase_ == Phase::Closed || inflight_ != nullptr || queue_.empty()) return;
  uv_buf_t bufs[kMaxWriteBufs];
  size_t count = std::min(queue_.size(), kMaxWriteBufs);
  for (size_t i = 0; i < count; ++i) {
    const Chunk& chunk = queue_[i];
    bufs[i] = uv_buf_init(const_cast<char*>(chunk.frame->data() + chunk.offset),
                          static_cast<unsigned>(chunk.frame->size() - chunk.offset));
  }
  int written = uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), bufs, static_cast<unsigned>(count));
  if (written == UV_EAGAIN) written = 0;
  if (written < 0) {
    destroy();
    return;
  }
  size_t left = static_cast<size_t>(written);
  backlogBytes_ -= left;
  size_t done = 0;
  while (done < queue_.size() && left > 0) {
    Chunk& chunk = queue_[done];
    size_t remaining = chunk.frame->size() - chunk.offset;
    if (left >= remaining) {
      left -= remaining;
      ++done;
    } else {
      chunk.offset += left;
      left = 0;
    }
  }
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(done));
  if (queue_.empty()) {
    if (queue_.capacity() > 8) std::vector<Chunk>().swap(queue_);  // no write queue while idle
    afterFlushed();
    return;
  }
  // The socket is backed up: hand the rest to libuv, which writes it when the socket drains.
  auto* request = new WriteRequest;
  request->req.data = this;
  request->chunks.swap(queue_);
  std::vector<uv_buf_t> pending;
  pending.reserve(request->chunks.size());
  for (const Chunk& chunk : request->chunks) {
    pending.push_back(uv_buf_init(const_cast<char*>(chunk.frame->data() + chunk.offset),
                                  static_cast<unsigned>(chunk.frame->size() - chunk.offset)));
  }
  inflight_ = request;
  if (writeStalledSinceMs_ == 0) {
    writeStalledSinceMs_ = frontend_.nowMs();
    if (phase_ == Phase::WebSocket) armWebSocketDeadline();
  }
  int rc = uv_write(&request->req, reinterpret_cast<uv_stream_t*>(&tcp_), pending.data(),
                    static_cast<unsigned>(pending.size()), onWriteCb);
  if (rc != 0) {
    inflight_ = nullptr;
    delete request;
    destroy();
  }
}

void Connection::onWriteCb(uv_write_t* req, int status) {
  auto* request = reinterpret_cast<WriteRequest*>(req);
  static_cast<Connection*>(req->data)->onWritten(request, status);
}

void Connection::onWritten(WriteRequest* request, int status) {
  for (const Chunk& chunk : request->chunks) backlogBytes_ -= chunk.frame->size() - chunk.offset;
  inflight_ = nullptr;
  delete request;
  if (status < 0) {
    destroy();  // no-op when the handle is already closing (UV_ECANCELED)
    return;
  }
  writeStalledSinceMs_ = 0;  // libuv drained what it held; a new stall starts its own clock
  if (!queue_.empty()) {
    flush();
  } else {
    afterFlushed();
  }
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
  spdlog::debug("closing connection {} with {} ({})", session_ ? session_->claims.sub : "-", code, reason);
  closeCode_ = code;
  phase_ = Phase::Closing;
  closeSent_ = true;
  queue_.push_back({std::make_shared<const std::string>(encodeCloseFrame(code, reason)), 0});
  backlogBytes_ += queue_.back().frame->size();
  frontend_.markDirty(this);
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
  if (writeStalledSinceMs_ != 0 && now >= writeStalledSinceMs_ + config.writeTimeoutMs) {
    // A close frame would wait behind the stalled bytes: drop the connection, counted as too slow.
    closeCode_ = 4009;
    destroy();
    return;
  }
  if (pongDeadlineMs_ != 0) {
    if (lastReadMs_ + config.pongTimeoutMs >= pongDeadlineMs_) {
      pongDeadlineMs_ = 0;  // something arrived after the ping: alive
    } else if (now >= pongDeadlineMs_) {
      spdlog::debug("connection {} did not answer a ping", session_ ? session_->claims.sub : "-");
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
  if (writeStalledSinceMs_ != 0) next = std::min(next, writeStalledSinceMs_ + config.writeTimeoutMs);
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

// ---- requests ---------------------------------------------------------------------------------

void Connection::handleRequest(std::string_view payload) {
  ClientRequest request;
  DecodeError error = frontend_.decoder().decode(payload, request);
  if (!session_ && (!error.ok() || request.op != ClientOp::Auth)) {
    close(4001, "the first request must be auth");
    return;
  }
  if (!error.ok()) {
    replyError(request, "bad_request", error.message);
    return;
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
      } else if (!canPublish(session_->claims, request.ch)) {
        replyError(request, "forbidden", "no publish grant for this channel");
        countForbidden();
      } else {
        publish(request.id, std::string(request.ch), std::string(request.cid), std::string(request.data));
      }
      break;
    case ClientOp::Hist:
      if (!isValidChannelName(request.ch)) {
        replyError(request, "bad_request", "invalid channel name");
      } else if (!canSubscribe(session_->claims, request.ch)) {
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
  TokenResult result = frontend_.verifier().verify(request.token, frontend_.wallSeconds());
  if (result.error != TokenError::None) {
    close(4001, toString(result.error));
    return;
  }
  if (session_ && result.claims.sub != session_->claims.sub) {
    replyError(request, "bad_request", "a refreshed token must be for the same user");
    return;
  }
  if (!session_) {
    session_ = std::make_unique<Session>();
    session_->connId = frontend_.nextConnectionId();
    frontend_.metrics().authenticated++;
  }
  session_->claims = std::move(result.claims);
  // The token's expiry is the connection's deadline until a fresh auth moves it.
  int64_t msLeft = (session_->claims.exp - frontend_.wallSeconds()) * 1000;
  authOrExpiryMs_ = frontend_.nowMs() + static_cast<uint64_t>(std::max<int64_t>(msLeft, 0));
  armWebSocketDeadline();
  std::string out;
  JsonWriter(out)
      .beginObject()
      .key("op").string("ok")
      .key("id").integer(request.id)
      .key("user").string(session_->claims.sub)
      .key("conn").string(session_->connId)
      .endObject();
  sendText(out);
}

Channel* Connection::findSubscription(std::string_view name) const {
  for (Channel* channel : channels_) {
    if (channel->name == name) return channel;
  }
  return nullptr;
}

void Connection::handleSub(const ClientRequest& request) {
  if (!isValidChannelName(request.ch)) {
    replyError(request, "bad_request", "invalid channel name");
    return;
  }
  if (!canSubscribe(session_->claims, request.ch)) {
    replyError(request, "forbidden", "no grant for this channel");
    countForbidden();
    return;
  }
  subscribe(request.id, std::string(request.ch), request.hasSince);
}

void Connection::handleUnsub(const ClientRequest& request) {
  if (!isValidChannelName(request.ch)) {
    replyError(request, "bad_request", "invalid channel name");
    return;
  }
  if (Channel* channel = findSubscription(request.ch)) {
    channels_.erase(std::find(channels_.begin(), channels_.end(), channel));
    frontend_.leaveChannel(channel, this);
  }
  replyOk(request.id);
}

void Connection::replyOk(int64_t id) {
  std::string out;
  JsonWriter(out).beginObject().key("op").string("ok").key("id").integer(id).endObject();
  sendText(out);
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
  sendText(out);
}

// ---- request flows (coroutines) ---------------------------------------------------------------

Task Connection::subscribe(int64_t id, std::string name, bool sentSince) {
  Channel* channel = findSubscription(name);
  if (channel == nullptr) {
    channel = frontend_.joinChannel(name, this);
    channels_.push_back(channel);
  }
  if (!channel->live) {
    JoinWait join(*channel, pending_, frontend_.wheel(), frontend_.nowMs() + frontend_.config().hubTimeoutMs);
    WaitStatus status = co_await join;
    if (status == WaitStatus::Cancelled) co_return;  // closing: touch nothing
    if (status != WaitStatus::Done) {
      frontend_.metrics().hubTimeouts++;
      channels_.erase(std::find(channels_.begin(), channels_.end(), channel));
      frontend_.leaveChannel(channel, this);
      replyError(id, true, "unavailable", "the hub did not confirm the subscription in time");
      co_return;
    }
  }
  std::string out;
  JsonWriter writer(out);
  writer.beginObject()
      .key("op").string("ok")
      .key("id").integer(id)
      .key("epoch").string(formatEpoch(channel->epoch))
      .key("seq").uinteger(channel->lastSeq);
  // Recovery from `since` comes with the history-backed join; until then say nothing was recovered,
  // so the client reloads from hist (PROTOCOL.md: recovered:false).
  if (sentSince) writer.key("recovered").boolean(false);
  writer.endObject();
  sendText(out);
}

Task Connection::publish(int64_t id, std::string channel, std::string cid, std::string data) {
  wire::FrontendRequest request;
  wire::Publish* body = request.mutable_publish();
  body->set_channel(std::move(channel));
  body->set_from(session_->claims.sub);
  body->set_cid(std::move(cid));
  body->set_data(std::move(data));
  HubCall call(frontend_.hub(), pending_, request, frontend_.nowMs() + frontend_.config().hubTimeoutMs);
  HubResult result = co_await call;
  if (result.status == WaitStatus::Cancelled) co_return;
  Metrics& metrics = frontend_.metrics();
  if (result.status != WaitStatus::Done) {
    if (result.status == WaitStatus::TimedOut) metrics.hubTimeouts++;
    metrics.publishErrors++;
    // Outcome unknown: the client retries with the same cid (PROTOCOL.md).
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
  sendText(out);
}

Task Connection::history(int64_t id, std::string channel, uint64_t before, uint64_t after, uint32_t limit) {
  wire::FrontendRequest request;
  wire::History* body = request.mutable_history();
  body->set_channel(std::move(channel));
  body->set_before(before);
  body->set_after(after);
  body->set_limit(limit);
  HubCall call(frontend_.hub(), pending_, request, frontend_.nowMs() + frontend_.config().hubTimeoutMs);
  HubResult result = co_await call;
  if (result.status == WaitStatus::Cancelled) co_return;
  if (result.status != WaitStatus::Done) {
    if (result.status == WaitStatus::TimedOut) frontend_.metrics().hubTimeouts++;
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
  for (const wire::Delivery& m : page.msgs()) {
    writer.beginObject()
        .key("op").string("msg")
        .key("ch").string(m.channel())
        .key("epoch").string(formatEpoch(m.epoch()))
        .key("seq").uinteger(m.seq())
        .key("from").string(m.from())
        .key("ts").integer(m.ts_ms())
        .key("data").raw(m.data())
        .endObject();
  }
  writer.endArray().key("more").boolean(page.more()).endObject();
  sendText(out);
}

}  // namespace webim
