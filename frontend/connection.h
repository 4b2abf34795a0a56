// One client connection: HTTP request head -> WebSocket upgrade (or a plain HTTP answer) -> the
// client protocol of docs/protocol.md section 1.
//
// Memory while idle: one object (one deadline node, the session, the socket's fd, the list of
// subscribed channels); the socket is watched in the frontend's EpollSet, without a libuv handle of
// its own. No read buffer (the loop's is shared), no frame parser state between frames
// (the loop's parser serves), no write queue unless the socket is backed up, no coroutine frame
// unless a request is in flight.
//
// Lifetime: destroy() cancels every waiting coroutine, leaves every channel and closes the socket;
// the frontend frees the object at the end of that loop iteration, never inside a callback that may
// still use it. Closing twice is safe.
#pragma once

#include <uv.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/client_request.h"
#include "common/http_request_parser.h"
#include "common/log_event.h"
#include "common/log_line.h"
#include "common/token.h"
#include "common/ws_frame.h"
#include "frontend/channel_stream.h"
#include "frontend/delivery.h"
#include "frontend/grants.h"
#include "frontend/inline_ptr_vec.h"
#include "frontend/liveness.h"
#include "frontend/conversation_list.h"
#include "frontend/task.h"

namespace webim {

class Frontend;
struct Channel;
struct SubCursors;
struct HubResult;


// Idle, a connection is this object and nothing else on the heap (its inbox and rooms are shared
// Channel objects): the session, the deadline, the fd and the channel list.
class Connection final : private TimerNode {
 public:
  // Takes one connection the listener accepted (`fd`, non-blocking); returns nullptr if it could
  // not be watched (the fd is closed then). `privateListener`: from admin_listen (it serves the
  // operator's endpoints only, connection_admin.cpp).
  static Connection* accept(Frontend& frontend, int fd, bool privateListener = false);
  // The frontend's EpollSet reported `events` (EPOLLIN, EPOLLOUT, ...) for this socket.
  void onEvents(uint32_t events);
  // Freed by the frontend at the end of the loop iteration in which it was destroyed.
  ~Connection() = default;

  // Queues bytes for the client; flushed at the end of the loop iteration.
  // `own`: a reply to this client's request or its recovery (not fan-out). The backlog limit
  // (4009) is for messages a slow client cannot keep up with; its own answers (a 1 MiB history
  // page, a recovery) get kOwnAllowance on top, so they never close an idle client.
  void send(SharedFrame frame, bool own = false);
  void sendText(std::string_view json);
  // A message for this subscriber, in its transport's encoding (WebSocket frame, SSE event, or an
  // element of the long-poll answer).
  void deliver(DeliveryFrames& frames, bool own = false);
  static constexpr size_t kOwnAllowance = 4 * 1024 * 1024;
  // Starts the close handshake with `code` (or, before the upgrade, just closes after flushing).
  void close(uint16_t code, std::string_view reason);
  // Answers 503 and closes (the process holds its maximum of connections).
  void refuse();
  // Closes the socket now (no close frame). Idempotent.
  void destroy();
  void flush();

  // The authenticated user, or empty before auth.
  std::string_view user() const noexcept { return session_.user; }
  // Counted in the user's connections, so the user is present here (presence_attach.cpp).
  bool presenceCounted() const noexcept { return countedUser_; }
  bool open() const noexcept { return phase_ != Phase::Closing && phase_ != Phase::Closed; }
  // Still reading or answering an HTTP request (not yet a WebSocket or an event stream).
  bool inHttpExchange() const noexcept { return phase_ == Phase::Http; }
  // Accepted on admin_listen (scrapers, the app's /api calls): not a browser, never drained.
  bool onPrivateListener() const noexcept { return privateListener_; }
  // In the frontend's dirty list (flushed at the end of this loop iteration).
  bool flushQueued() const noexcept { return flushQueued_; }
  void setFlushQueued(bool queued) noexcept { flushQueued_ = queued; }

 private:
  friend class WsEvents;
  // Http: reading a request (or waiting on the hub for an HTTP API / fallback command).
  // Stream: the HTTP fallback's GET /events (SSE or long-poll) holding subscriptions.
  enum class Phase : uint8_t { Http, WebSocket, Stream, Closing, Closed };
  enum class BodyUse : uint8_t { Api, Session, Command };
  // Why a subscription ended (or a join failed) after a refresh with fewer grants.
  static constexpr std::string_view kRevokedMessage = "the refreshed token does not grant this channel";
  struct Since {
    uint64_t epoch = 0;
    uint64_t seq = 0;
  };
  // One request per connection (no keep-alive), so at most one of these exists at a time, behind
  // one pointer: the request head's parser until the head is parsed, then a POST body while it
  // arrives, or a GET /events stream. A WebSocket holds none of them.
  struct HttpExchange {
    enum class Kind : uint8_t { Head, Body, Stream };
    explicit HttpExchange(Kind k) : kind(k) {}
    virtual ~HttpExchange() = default;
    const Kind kind;
  };
  struct HeadState final : HttpExchange {
    HeadState() : HttpExchange(Kind::Head) {}
    HttpRequestParser parser;
  };
  struct PendingBody final : HttpExchange {  // a POST body while it arrives
    PendingBody() : HttpExchange(Kind::Body) {}
    BodyUse use = BodyUse::Api;
    std::string op;       // Api: the app op named by the path
    std::string body;
    size_t length = 0;
    bool done = false;    // read; later bytes are ignored
    std::string cors;     // CORS header lines for the answer (/session, /cmd)
  };
  struct StreamState final : HttpExchange {  // GET /events
    StreamState() : HttpExchange(Kind::Stream) {}
    bool eventStream = false;  // SSE; else long-poll
    bool pollFull = false;     // long-poll: the answer reached max_backlog_bytes; the rest waits for the next poll
    std::string poll;          // long-poll: msgs gathered for the answer (a JSON array's elements)
    std::string cors;          // CORS header lines for the long-poll answer
  };
  HttpRequestParser* head() const noexcept {
    return http_ && http_->kind == HttpExchange::Kind::Head ? &static_cast<HeadState*>(http_.get())->parser : nullptr;
  }
  PendingBody* body() const noexcept {
    return http_ && http_->kind == HttpExchange::Kind::Body ? static_cast<PendingBody*>(http_.get()) : nullptr;
  }
  StreamState* stream() const noexcept {
    return http_ && http_->kind == HttpExchange::Kind::Stream ? static_cast<StreamState*>(http_.get()) : nullptr;
  }
  bool isCommand() const noexcept { return body() && body()->use == BodyUse::Command; }
  std::string_view corsReply() const noexcept { return body() ? std::string_view(body()->cors) : std::string_view(); }
  // What an authenticated connection keeps of its token (inline; the grants are shared).
  struct Session {
    std::string user;                      // empty before auth
    GrantsRef grants;
    uint32_t exp = 0;     // Unix seconds
    uint32_t serial = 0;  // names the connection in the auth reply ("conn")
    bool active() const noexcept { return static_cast<bool>(grants); }
    bool canSubscribe(std::string_view ch) const noexcept;
    bool canPublish(std::string_view ch) const noexcept;
  };
  void startSession(TokenClaims&& claims);
  // Counts this connection against its user's cap (max_connections_per_user); false when over it.
  bool countUser();
  // Counts this connection against its client address's cap (max_connections_per_address); false
  // when over it. The address is the peer's, or X-Forwarded-For's behind a trusted proxy.
  bool countAddress(const HttpRequest& request);
  void uncountStream();
  // connection_admin.cpp: /healthz, /readyz, /metrics, /api (whichever this listener serves).
  static bool isOperatorPath(std::string_view path) noexcept;
  void serveOperator(const HttpRequest& request, std::string_view rest);
  void armStreamDeadline();
  // Only while the socket is backed up (it would not take everything): what waits to be written.
  struct Backlog {
    explicit Backlog(uint64_t& gauge) : bytes(gauge) {}
    std::vector<OutChunk> queue;
    BacklogBytes bytes;           // not yet written (counted in the metrics' backlog gauge)
    uint64_t stalledSinceMs = 0;  // since it backed up or last took bytes (the write timeout)
    bool waiting = false;         // for a writable event
  };
  static constexpr uint32_t kNoFrame = UINT32_MAX;
  void queueFrame(SharedFrame frame);
  void dropPending();
  size_t queuedBytes() const noexcept { return pendingBytes_ + (backlog_ ? backlog_->bytes : 0); }
  bool writeOut(std::vector<OutChunk>& out, size_t& first, size_t& written);

  Connection(Frontend& frontend, int fd);
  Frontend& frontend() const noexcept { return frontend_; }

  void onReadable();
  void onBytes(std::string_view bytes);
  void onWebSocketBytes(std::string_view bytes);
  void onHttpBytes(std::string_view bytes);
  // A parsed request head: routed to the WebSocket upgrade, the HTTP API, the HTTP fallback or a
  // plain GET. `rest`: the bytes read behind the head.
  void serveHttp(const HttpRequest& request, std::string_view rest);
  void upgradeWebSocket(const HttpRequest& request, std::string_view rest);
  void serveFallback(const HttpRequest& request, std::string_view rest);
  void serveFile(const HttpRequest& request);
  void finishHttp(std::string response);
  void startBody(const HttpRequest& request, std::string_view rest, BodyUse use, std::string op,
                 std::string cors = {});
  void onBody(std::string_view bytes);
  void serveApi(const HttpRequest& request, std::string_view rest);
  Task apiCall(std::string op, std::string body);
  Task apiOnline(std::string body);  // presence_api.cpp: /api/online over several shards
  Task apiEraseEveryHub(std::string op, std::string body);  // erase_api.cpp: erase_user/erase_status, every hub
  std::optional<std::string> appReplyOrFinish(const HubResult& result, std::string_view noAnswer);
  std::string corsHeaders(const HttpRequest& request) const;
  // Starts the session of an HTTP fallback request from its sid; else returns why it is refused.
  std::string adoptSession(std::string_view sid);
  void createSession(std::string_view body);
  void runCommand(std::string_view body);
  void openEvents(const HttpRequest& request);
  void finishPoll();
  // A reply to a request: a text frame on a WebSocket, the HTTP response of a /cmd.
  void sendReply(std::string_view json);
  // A message or resync object for this connection only (recovery, HTTP fallback).
  void deliverOwn(std::string_view channel, uint64_t epoch, uint64_t seq, std::string_view json);
  void watch(bool writable);
  void afterFlushed();
  void setDeadline(uint64_t deadlineMs);
  void onDeadline();
  void armWebSocketDeadline();
  // The WebSocket's clocks as frontend/liveness.h decides on them.
  LivenessTimes livenessTimes() const noexcept;
  LivenessLimits livenessLimits() const noexcept;
  bool takeRateToken();
  void countForbidden();
  // An event line naming this connection (connection_log.cpp): address, transport, user, `more`.
  void logEvent(LogEvent event, std::string_view message, std::initializer_list<LogField> more);
  // The token_rejected line: `credential` (token, sid, api_key) refused for `reason`, never its value.
  void logRefused(std::string_view credential, std::string_view reason);
  std::string_view transportName() const noexcept;
  void handleRequest(std::string_view payload);
  void handleAuth(const ClientRequest& request);
  void revokeUngranted();
  void handleSub(const ClientRequest& request);
  void handleUnsub(const ClientRequest& request);
  void handleSignal(const ClientRequest& request);
  // Read cursors (frontend/read_requests.cpp).
  void handleRead(const ClientRequest& request);
  void handleUnread(const ClientRequest& request);
  Task markRead(int64_t id, std::string channel, uint64_t seq);
  void noticeOwnRead(const std::string& channel, uint64_t seq);  // read_requests.cpp
  // `api`: for POST /api/unread (the app, on behalf of `user`), answered as its HTTP response.
  // With `rows`: the answer is a `conversations` page of these channels (conversations.cpp).
  Task unreadCounts(int64_t id, std::string user, std::vector<std::string> channels, bool api,
                    std::optional<ConversationRows> rows = std::nullopt);
  // Conversations (frontend/conversations.cpp).
  void handleConversations(const ClientRequest& request);
  Task conversations(int64_t id, wire::FrontendRequest query, std::string apiUser = {});
  void apiConversations(std::string_view body);
  void touchConversation(const std::string& channel, uint64_t seq);
  void answerConversations(int64_t id, bool api, const std::vector<std::string>& channels, const ConversationRows& rows,
                           const std::vector<uint64_t>& counts, const std::vector<uint64_t>& reads,
                           const std::vector<uint64_t>& peerReads);
  void apiUnread(std::string_view body);
  // The cursors of a sub's replies (frontend/read_sub_cursors.cpp).
  void startSubCursors(const ClientRequest& request);
  Task fetchSubCursors(std::shared_ptr<SubCursors> cursors, std::vector<std::string> channels);
  std::shared_ptr<SubCursors> subCursorsFor(int64_t id);
  void writeSubCursors(JsonWriter& writer, int64_t id, const std::string& channel);
  void subAnswered(int64_t id);
  void handleOnline(const ClientRequest& request);  // presence_query.cpp
  Task queryOnline(int64_t id, std::vector<std::string> users);
  // presence / presence_stats (connection_presence.cpp): checked here, answered by the channel's hub.
  void handlePresence(const ClientRequest& request);
  Task presenceQuery(int64_t id, std::string channel, bool statsOnly, std::string after, uint32_t limit);
  bool refusedPublish(const ClientRequest& request);
  uint64_t overHubDataLimit(const ClientRequest& request);
  void replyOk(int64_t id);
  void replyError(const ClientRequest& request, std::string_view code, std::string_view message);
  void replyError(int64_t id, bool hasId, std::string_view code, std::string_view message);
  // After a hub call that was not cancelled: true when the hub answered; else request `id` has been
  // answered with the error: `unavailable` with `noAnswer` (no answer: a timeout is counted), or
  // the hub's own error code and message.
  bool hubAnswered(int64_t id, const HubResult& result, std::string_view noAnswer);
  Channel* findSubscription(std::string_view name) const;
  // Leaves every channel and cancels every wait (closing, or an HTTP exchange answered).
  void stopAll();
  void leaveAll();

  // WebSocket events (through WsEvents, so the connection carries no vtable).
  void onMessage(WsOpcode opcode, std::string_view payload);
  void onPing(std::string_view payload);
  void onClose(uint16_t code, std::string_view reason);
  void onProtocolError(uint16_t closeCode, const char* why);

  // `batched`: the request listed several channels (`subs`), so each answer names its channel.
  void replySubscribed(int64_t id, bool batched, const Channel& channel, std::optional<bool> recovered);
  void replyJoinError(int64_t id, bool batched, std::string_view ch, std::string_view code, std::string_view message);
  void abandonJoin(int64_t id, bool batched, Channel* channel, std::string_view why);
  // Checks one channel of a sub (name, grant, max_subscriptions, since) and starts its join, or
  // answers why the channel is refused.
  void startJoin(int64_t id, bool batched, std::string_view ch, bool hasSince, std::string_view sinceEpoch,
                 uint64_t sinceSeq);
  // Cancels every wait of this connection (it is closing or answered).
  void cancelWaits();
  // The replay turn (ReplayPacer): ends it, passing it on to the connection's next replay, if any.
  void endReplayTurn();

  // The sub flow (connection_join.cpp); `pin` holds the channel while the connection catches up.
  // subscribe: a checked channel, joined anew or (already held) answered once its position is known.
  void subscribe(int64_t id, bool batched, std::string_view ch, std::optional<Since> since);
  Task joinAgain(int64_t id, bool batched, bool withSince, ChannelPin pin);
  Task join(int64_t id, bool batched, std::optional<Since> since, ChannelPin pin);
  Task recover(int64_t id, bool batched, std::optional<Since> since, ChannelPin pin);
  void goLive(int64_t id, bool batched, ChannelPin pin, std::optional<bool> recovered,
              std::vector<wire::Delivery> missed);
  // editOf/deleteOf: an edit or delete of that seq (docs/protocol.md "Edit and delete").
  Task publish(int64_t id, std::string channel, std::string cid, std::string data, uint64_t editOf = 0,
               uint64_t deleteOf = 0);
  Task history(int64_t id, std::string channel, uint64_t before, uint64_t after, uint32_t limit);

  Frontend& frontend_;
  // TimerNode (the base): the one deadline (see below).
  Session session_;
  PendingOp* pending_ = nullptr;             // waiting coroutines (hub calls, joins)
  // The frame parser's state while a frame or message is split across reads; between frames
  // (nearly always) the loop's shared parser serves.
  std::unique_ptr<WsFrameParser> ws_;
  std::unique_ptr<HttpExchange> http_;       // see HttpExchange
  std::unique_ptr<Backlog> backlog_;         // only while the socket is backed up
  // Liveness and pacing. The one deadline node serves them all: it is set to the earliest of the
  // auth deadline / token expiry, the next idle check, the pong deadline and the write deadline,
  // and re-evaluated when it fires (reads only record the time; they never touch the wheel).
  uint64_t authOrExpiryMs_ = 0;
  uint64_t lastReadMs_ = 0;
  uint64_t pongDeadlineMs_ = 0;     // 0: no ping outstanding
  uint64_t rateRefillMs_ = 0;
  uint32_t rateTokensMilli_ = 0;    // token bucket, in thousandths of a request
  uint32_t pendingHead_ = kNoFrame;          // this iteration's frames (Frontend::pendingFrame)
  uint32_t pendingTail_ = kNoFrame;
  uint32_t pendingBytes_ = 0;
  // The socket: in the frontend's EpollSet (so a connection needs no uv_tcp_t of 248 bytes or
  // uv_poll_t of 160); reads use the loop's buffer, writes go out with sendmsg.
  int fd_;
  [[no_unique_address]] InlinePtrVec<Channel, 2> channels_;
  uint16_t closeCode_ = 1006;
  uint8_t forbidden_ = 0;  // max_forbidden is at most 255
  Phase phase_ = Phase::Http;
  bool shutdownAfterFlush_ : 1 = false;
  bool closeSent_ : 1 = false;
  bool countedWebSocket_ : 1 = false;
  bool tooSlow_ : 1 = false;
  bool wsFinished_ : 1 = false;  // the peer's close frame or a protocol error ended the frame stream
  bool flushQueued_ : 1 = false;
  bool replaying_ : 1 = false;   // holds its replay turn (ReplayPacer): live frames share the own allowance
  bool countedUser_ : 1 = false;  // counted against max_connections_per_user (Frontend::userCounts)
  bool countedAddress_ : 1 = false;  // counted against max_connections_per_address
  bool headRequest_ : 1 = false; // the HTTP request is a HEAD: its answer goes without a body
  bool privateListener_ : 1 = false;  // accepted on admin_listen
};

}  // namespace webim
