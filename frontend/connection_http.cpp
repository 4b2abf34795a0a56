// The plain-HTTP side of a connection: routing of the request head (the operator's routes, health,
// metrics and which listener serves /api, are connection_admin.cpp), static files, the HTTP API for
// apps (docs/protocol.md section 4) and the HTTP fallback for browsers whose network blocks
// WebSocket (docs/protocol.md section 2):
//   POST /session {"token"}          -> {"sid","user","v"}   (sid verifiable by every frontend)
//   GET  /events?sid=&ch=&since=     -> SSE (Accept: text/event-stream) or one long-poll answer
//   POST /cmd?sid=  {pub|hist}       -> the request's reply
// Each exchange answers once and closes (no keep-alive), except the SSE stream.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "common/channel_rules.h"
#include "common/protocol_version.h"
#include "common/websocket_handshake.h"
#include "frontend/channel_index.h"
#include "frontend/connection.h"
#include "frontend/frontend.h"
#include "frontend/http_api.h"
#include "frontend/rate_limit.h"

namespace webim {

namespace {
constexpr const char* kJson = "application/json";

// The value of `name` in a query string ("a=1&b=2"); no percent-decoding: every value we read
// (sid: base64url and '.', channel names, epochs, seqs, ',' and ':') is plain.
std::string_view queryParam(std::string_view target, std::string_view name) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return {};
}

std::vector<std::string_view> splitList(std::string_view list, char sep) {
  std::vector<std::string_view> out;
  while (!list.empty()) {
    size_t at = list.find(sep);
    if (at != 0) out.push_back(list.substr(0, at));
    if (at == std::string_view::npos) break;
    list = list.substr(at + 1);
  }
  return out;
}

// "ch:epoch:seq" (the SSE event id, and each element of since=); the channel may contain ':'.
bool parsePosition(std::string_view text, std::string_view& channel, uint64_t& epoch, uint64_t& seq) {
  size_t last = text.rfind(':');
  if (last == std::string_view::npos || last == 0) return false;
  size_t mid = text.rfind(':', last - 1);
  if (mid == std::string_view::npos) return false;
  std::optional<uint64_t> e = parseEpoch(text.substr(mid + 1, last - mid - 1));
  std::string_view seqText = text.substr(last + 1);
  auto [end, ec] = std::from_chars(seqText.data(), seqText.data() + seqText.size(), seq);
  if (!e || ec != std::errc() || end != seqText.data() + seqText.size()) return false;
  channel = text.substr(0, mid);
  epoch = *e;
  return true;
}
}  // namespace

void Connection::onHttpBytes(std::string_view bytes) {
  if (body()) {
    onBody(bytes);
    return;
  }
  HttpRequestParser* parser = head();
  if (parser == nullptr) return;  // answered; waiting for the peer to go
  HttpRequestParser::Result result = parser->consume(bytes);
  switch (result.status) {
    case HttpRequestParser::Status::NeedMore:
      return;
    case HttpRequestParser::Status::Error:
      spdlog::debug("bad HTTP request: {}", parser->errorReason());
      finishHttp(httpResponse(parser->errorStatus(), "text/plain", std::string(parser->errorReason()) + "\n"));
      return;
    case HttpRequestParser::Status::Done:
      serveHttp(parser->request(), bytes.substr(result.consumed));
      return;
  }
}

void Connection::serveHttp(const HttpRequest& request, std::string_view rest) {
  std::string_view path = request.path();
  headRequest_ = request.method == "HEAD";  // whatever the answer, it goes without a body
  if (privateListener_ || isOperatorPath(path)) {
    serveOperator(request, rest);
    return;
  }
  const bool browser = path == "/ws" || path == "/events" || path == "/session" || path == "/cmd";
  if (browser && frontend().config().maxConnectionsPerAddress != 0 && !countAddress(request)) {
    finishHttp(httpResponse(429, "text/plain", "too many connections from this address, retry later\n"));
    return;
  }
  if (path == "/ws") {
    upgradeWebSocket(request, rest);
    return;
  }
  frontend().metrics().httpRequests++;
  if (path == "/session" || path == "/events" || path == "/cmd") {
    serveFallback(request, rest);
  } else {
    serveFile(request);
  }
}

void Connection::upgradeWebSocket(const HttpRequest& request, std::string_view rest) {
  HandshakeResult handshake = acceptWebSocket(request, frontend().handshakePolicy());
  if (handshake.status != 101) {
    finishHttp(std::move(handshake.response));
    return;
  }
  http_.reset();
  phase_ = Phase::WebSocket;
  countedWebSocket_ = true;
  frontend().metrics().websocketsOpen++;
  send(std::make_shared<const std::string>(std::move(handshake.response)));
  lastReadMs_ = frontend().nowMs();
  authOrExpiryMs_ = lastReadMs_ + frontend().config().authTimeoutMs;
  rateRefillMs_ = lastReadMs_;
  rateTokensMilli_ = static_cast<uint32_t>(fullBucketMilli(frontend().config().rateBurst));
  armWebSocketDeadline();
  // Frames pipelined behind the request head belong to the WebSocket.
  if (!rest.empty()) onWebSocketBytes(rest);
}

// The HTTP fallback (docs/protocol.md): /session, /events and /cmd, with CORS for allowed origins.
void Connection::serveFallback(const HttpRequest& request, std::string_view rest) {
  std::string_view path = request.path();
  if (!isOriginAllowed(request, frontend().handshakePolicy())) {
    finishHttp(httpResponse(403, kJson, apiError("forbidden", "origin not allowed")));
    return;
  }
  std::string cors = corsHeaders(request);
  if (request.method == "OPTIONS") {  // CORS preflight
    finishHttp(withHeaders(httpResponse(204, {}, {}),
                           cors + "Access-Control-Allow-Methods: GET, POST\r\n"
                                  "Access-Control-Allow-Headers: Content-Type, Last-Event-ID\r\n"
                                  "Access-Control-Max-Age: 600\r\n"));
    return;
  }
  if (path == "/events") {
    if (request.method != "GET") {
      finishHttp(withHeaders(httpResponse(405, kJson, apiError("bad_request", "use GET")), cors));
      return;
    }
    openEvents(request);
    return;
  }
  if (request.method != "POST") {
    finishHttp(withHeaders(httpResponse(405, kJson, apiError("bad_request", "use POST")), cors));
    return;
  }
  if (path == "/cmd") {
    if (std::string refusal = adoptSession(queryParam(request.target, "sid")); !refusal.empty()) {
      finishHttp(withHeaders(httpResponse(401, kJson, apiError("forbidden", refusal)), cors));
      return;
    }
  }
  startBody(request, rest, path == "/cmd" ? BodyUse::Command : BodyUse::Session, {}, std::move(cors));
}

// Plain GETs: static files.
void Connection::serveFile(const HttpRequest& request) {
  std::string_view path = request.path();
  if (request.method != "GET" && request.method != "HEAD") {
    finishHttp(httpResponse(405, "text/plain", "method not allowed\n"));
    return;
  }
  if (const StaticFile* file = frontend().staticFile(path)) {
    // Module scripts (the JS client) are fetched with CORS by pages of an allowed origin.
    std::string cors = isOriginAllowed(request, frontend().handshakePolicy()) ? corsHeaders(request) : std::string();
    finishHttp(withHeaders(httpResponse(200, file->contentType, file->body), cors));
    return;
  }
  finishHttp(httpResponse(404, "text/plain", "not found\n"));
}

bool Connection::countAddress(const HttpRequest& request) {
  sockaddr_storage peer{};
  socklen_t length = sizeof(peer);
  if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&peer), &length) != 0) return true;  // gone anyway
  char text[INET6_ADDRSTRLEN] = {};
  if (peer.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&peer)->sin_addr, text, sizeof(text));
  } else if (peer.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&peer)->sin6_addr, text, sizeof(text));
  }
  std::optional<AddressKey> address = parseAddress(text);
  if (!address) return true;
  AddressKey client = frontend().config().trustedProxyRanges.clientAddress(*address, request.header("X-Forwarded-For"));
  if (!frontend().addressCounts().tryAdd(client, frontend().config().maxConnectionsPerAddress)) {
    frontend().metrics().addressCapRefusals++;
    return false;
  }
  frontend().countedAddresses()[this] = std::move(client);
  countedAddress_ = true;
  return true;
}

// CORS for the allowed origins (the same policy as the WebSocket endpoint).
std::string Connection::corsHeaders(const HttpRequest& request) const {
  std::optional<std::string_view> origin = request.header("Origin");
  if (!origin) return {};
  return "Access-Control-Allow-Origin: " + std::string(*origin) + "\r\nVary: Origin\r\n";
}

// ---- request bodies ---------------------------------------------------------------------------

void Connection::startBody(const HttpRequest& request, std::string_view rest, BodyUse use, std::string op,
                           std::string cors) {
  if (request.header("Transfer-Encoding")) {
    finishHttp(withHeaders(httpResponse(411, kJson, apiError("bad_request", "send Content-Length, not chunked")), cors));
    return;
  }
  std::optional<std::string_view> lengthText = request.header("Content-Length");
  size_t length = 0;
  bool valid = false;
  if (lengthText) {
    auto [end, ec] = std::from_chars(lengthText->data(), lengthText->data() + lengthText->size(), length);
    valid = ec == std::errc() && end == lengthText->data() + lengthText->size();
  }
  if (!valid) {
    finishHttp(withHeaders(httpResponse(411, kJson, apiError("bad_request", "Content-Length is required")), cors));
    return;
  }
  // A body is one request whose data is at most a client message.
  if (length > frontend().config().maxMessageBytes + 4096) {
    finishHttp(withHeaders(httpResponse(413, kJson, apiError("too_large", "request body too large")), cors));
    return;
  }
  auto body = std::make_unique<PendingBody>();
  body->use = use;
  body->op = std::move(op);
  body->cors = std::move(cors);
  body->length = length;
  body->body.reserve(length);
  http_ = std::move(body);  // the head parser (and `request`) ends here
  onBody(rest);
}

void Connection::onBody(std::string_view bytes) {
  PendingBody* pending = this->body();
  if (pending == nullptr || pending->done) return;
  pending->body.append(bytes.substr(0, pending->length - pending->body.size()));
  if (pending->body.size() < pending->length) return;
  pending->done = true;  // later bytes are ignored (no keep-alive)
  std::string body = std::move(pending->body);
  switch (pending->use) {
    case BodyUse::Api:
      apiCall(std::move(pending->op), std::move(body));
      break;
    case BodyUse::Session:
      createSession(body);
      break;
    case BodyUse::Command:
      runCommand(body);
      break;
  }
}

// ---- HTTP API (for apps) ----------------------------------------------------------------------

void Connection::serveApi(const HttpRequest& request, std::string_view rest) {
  std::optional<std::string_view> op = apiOpForPath(request.path());
  if (!op) {
    finishHttp(httpResponse(404, kJson, apiError("not_found", "unknown API path")));
    return;
  }
  if (!frontend().apiKeys().enabled()) {
    finishHttp(httpResponse(404, kJson, apiError("not_found", "the HTTP API is off (no --api-key-file)")));
    return;
  }
  if (request.method != "POST") {
    finishHttp(httpResponse(405, kJson, apiError("bad_request", "use POST")));
    return;
  }
  std::optional<std::string_view> authorization = request.header("Authorization");
  if (!authorization || !frontend().apiKeys().accepts(*authorization)) {
    logRefused("api_key", authorization ? "wrong" : "missing");
    finishHttp(httpResponse(401, kJson, apiError("forbidden", "missing or wrong API key")));
    return;
  }
  startBody(request, rest, BodyUse::Api, std::string(*op));
}

// ---- HTTP fallback (for browsers) -------------------------------------------------------------

std::string Connection::adoptSession(std::string_view sid) {
  if (sid.empty()) return "missing, bad or expired sid: no sid";
  TokenResult result = frontend().sessionIds().verify(sid, frontend().wallSeconds());
  const bool revoked = result.error == TokenError::None && frontend().isRevoked(result.claims);
  if (result.error != TokenError::None || revoked) logRefused("sid", revoked ? "revoked" : toString(result.error));
  if (result.error != TokenError::None) return std::string("missing, bad or expired sid: ") + toString(result.error);
  if (revoked) return "missing, bad or expired sid: revoked (the user was kicked after its token was issued)";
  startSession(std::move(result.claims));
  return {};
}

void Connection::createSession(std::string_view body) {
  JsonObjectReader& reader = frontend().jsonReader();
  std::string_view token;
  if (reader.read(body).ok()) {
    for (const JsonMember& m : reader.members()) {
      if (m.parent == kJsonTopLevel && m.key == "token" && m.value.type == JsonType::String) token = m.value.str;
    }
  }
  if (token.empty()) {
    finishHttp(withHeaders(httpResponse(400, kJson, apiError("bad_request", "body must be {\"token\":...}")), std::string(corsReply())));
    return;
  }
  TokenResult result = frontend().verifier().verify(token, frontend().wallSeconds());
  if (result.error != TokenError::None) {
    logRefused("token", toString(result.error));
    finishHttp(withHeaders(httpResponse(401, kJson, apiError("forbidden", toString(result.error))), std::string(corsReply())));
    return;
  }
  if (frontend().isRevoked(result.claims)) {
    logRefused("token", "revoked");
    finishHttp(withHeaders(httpResponse(401, kJson, apiError("forbidden", "token revoked: the user was kicked after it was issued")),
                           std::string(corsReply())));
    return;
  }
  unsigned char nonce[16];
  if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
    finishHttp(withHeaders(httpResponse(503, kJson, apiError("unavailable", "no randomness")), std::string(corsReply())));
    return;
  }
  result.claims.watch.clear();  // the watchlist is for WebSocket connections (a sid stays short)
  std::string sid = frontend().sessionIds().issue(result.claims,
                                                 std::string_view(reinterpret_cast<char*>(nonce), sizeof(nonce)));
  std::string out;
  JsonWriter(out)
      .beginObject()
      .key("sid").string(sid)
      .key("user").string(result.claims.sub)
      .key("v").string(kProtocolVersion)
      .endObject();
  finishHttp(withHeaders(httpResponse(200, kJson, out), std::string(corsReply())));
}

// One pub or hist request, answered as the HTTP response (sendReply), through the same flows as
// on a WebSocket.
void Connection::runCommand(std::string_view body) {
  frontend().metrics().messagesIn++;
  handleRequest(body);
}

void Connection::openEvents(const HttpRequest& request) {
  std::string cors = corsHeaders(request);
  if (std::string refusal = adoptSession(queryParam(request.target, "sid")); !refusal.empty()) {
    finishHttp(withHeaders(httpResponse(401, kJson, apiError("forbidden", refusal)), cors));
    return;
  }
  if (!countUser()) {
    finishHttp(withHeaders(httpResponse(429, kJson, apiError("rate_limited", "too many connections of this user")), cors));
    return;
  }
  std::vector<std::string_view> names = splitList(queryParam(request.target, "ch"), ',');
  const size_t maxChannels = frontend().config().maxSubscriptions;
  if (names.empty() || names.size() > maxChannels) {
    finishHttp(withHeaders(httpResponse(400, kJson, apiError("bad_request", "ch must list 1.." + std::to_string(maxChannels) +
                                                                                " channels (max_subscriptions)")),
                           cors));
    return;
  }
  for (std::string_view name : names) {
    if (!isValidChannelName(name)) {
      finishHttp(withHeaders(httpResponse(400, kJson, apiError("bad_request", "invalid channel name")), cors));
      return;
    }
    if (!session_.canSubscribe(name)) {
      finishHttp(withHeaders(httpResponse(403, kJson, apiError("forbidden", "no grant for " + std::string(name))), cors));
      return;
    }
  }
  // Positions: since=ch:E:S,... and, for SSE reconnects, Last-Event-ID (the last event seen).
  std::vector<std::pair<std::string_view, Since>> positions;
  for (std::string_view item : splitList(queryParam(request.target, "since"), ',')) {
    std::string_view ch;
    Since since;
    if (!parsePosition(item, ch, since.epoch, since.seq)) {
      finishHttp(withHeaders(httpResponse(400, kJson, apiError("bad_request", "since must be ch:epoch:seq,...")), cors));
      return;
    }
    positions.emplace_back(ch, since);
  }
  if (std::optional<std::string_view> last = request.header("Last-Event-ID")) {
    std::string_view ch;
    Since since;
    if (parsePosition(*last, ch, since.epoch, since.seq)) {
      auto it = std::find_if(positions.begin(), positions.end(), [&](const auto& p) { return p.first == ch; });
      if (it != positions.end()) {
        it->second = since;
      } else {
        positions.emplace_back(ch, since);
      }
    }
  }
  std::optional<std::string_view> accept = request.header("Accept");
  auto stream = std::make_unique<StreamState>();
  stream->eventStream = accept && accept->find("text/event-stream") != std::string_view::npos;
  stream->cors = cors;
  std::vector<std::string> channels(names.begin(), names.end());
  std::vector<std::optional<Since>> sinces;
  for (const std::string& name : channels) {
    auto it = std::find_if(positions.begin(), positions.end(), [&](const auto& p) { return p.first == name; });
    sinces.push_back(it == positions.end() ? std::nullopt : std::optional<Since>(it->second));
  }
  const bool eventStream = stream->eventStream;
  http_ = std::move(stream);  // the head parser (and `request`, `names`, `positions`) ends here
  phase_ = Phase::Stream;
  (eventStream ? frontend().metrics().eventStreams : frontend().metrics().longPolls)++;
  uint64_t now = frontend().nowMs();
  if (eventStream) {
    send(std::make_shared<const std::string>(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
        "Connection: keep-alive\r\nX-Accel-Buffering: no\r\n" + cors + "\r\n"));
    // The stream ends when the session expires (the client makes a new one with a fresh token).
    authOrExpiryMs_ = now + static_cast<uint64_t>(std::max<int64_t>(
                                (session_.exp - frontend().wallSeconds()) * 1000, 0));
    setDeadline(std::min(authOrExpiryMs_, now + frontend().config().sseKeepaliveMs));
  } else {
    authOrExpiryMs_ = now + frontend().config().pollTimeoutMs;
    setDeadline(authOrExpiryMs_);
  }
  for (size_t i = 0; i < channels.size(); ++i) subscribe(0, false, channels[i], sinces[i]);
}

// Long-poll: answers with what was gathered (at the end of the loop iteration it arrived in).
void Connection::finishPoll() {
  StreamState* stream = this->stream();
  if (stream == nullptr || stream->eventStream || phase_ != Phase::Stream) return;
  std::string body = "[" + stream->poll + "]";
  std::string cors = stream->cors;
  finishHttp(withHeaders(httpResponse(200, kJson, body), cors));
}

}  // namespace webim
