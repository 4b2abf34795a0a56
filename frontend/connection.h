// One client connection: HTTP request head -> WebSocket upgrade (or a plain HTTP answer) -> the
// client protocol of PROTOCOL.md section 1.
//
// Memory while idle: the uv_tcp_t, the frame parser's few bytes, one deadline node, the session and
// the list of subscribed channels. No read buffer (the loop's is shared), no write queue unless the
// socket is backed up, no coroutine frame unless a request is in flight.
//
// Lifetime: destroy() cancels every waiting coroutine, leaves every channel and closes the handle;
// the object is freed in the close callback only (house style 3). Closing twice is safe.
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "common/http_request_parser.h"
#include "common/json_codec.h"
#include "common/token.h"
#include "common/ws_frame.h"
#include "frontend/delivery.h"
#include "frontend/task.h"

namespace webim {

class Frontend;
struct Grants;
struct Channel;


// A subscribe request waiting for its channel's sync (ARCHITECTURE.md "Joining a stream").
class JoinWait final : public PendingOp {
 public:
  JoinWait(Channel& channel, PendingOp*& ownerList, TimerWheel& wheel, uint64_t deadlineMs);
  WaitStatus await_resume() const noexcept { return status_; }
  void joined() { complete(WaitStatus::Done); }

 private:
  void detach() noexcept override;
  Channel* channel_;
};

class Connection final : public WsFrameHandler {
 public:
  // Accepts one pending connection from `server`; returns nullptr if accept failed.
  static Connection* accept(Frontend& frontend, uv_stream_t* server);

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
  std::string_view user() const noexcept { return session_ ? std::string_view(session_->user) : std::string_view(); }
  bool open() const noexcept { return phase_ != Phase::Closing && phase_ != Phase::Closed; }
  bool flushQueued = false;  // in the frontend's dirty list
  Connection* prevInList = nullptr;
  Connection* nextInList = nullptr;

  // WsFrameHandler
  void onMessage(WsOpcode opcode, std::string_view payload) override;
  void onPing(std::string_view payload) override;
  void onPong(std::string_view payload) override;
  void onClose(uint16_t code, std::string_view reason) override;
  void onProtocolError(uint16_t closeCode, const char* why) override;

 private:
  // Http: reading a request (or waiting on the hub for an HTTP API / fallback command).
  // Stream: the HTTP fallback's GET /events (SSE or long-poll) holding subscriptions.
  enum class Phase : uint8_t { Http, WebSocket, Stream, Closing, Closed };
  enum class BodyUse : uint8_t { Api, Session, Command };
  struct Since {
    uint64_t epoch = 0;
    uint64_t seq = 0;
  };
  struct PendingBody {  // a POST body while it arrives
    BodyUse use = BodyUse::Api;
    std::string op;       // Api: the app op named by the path
    std::string body;
    size_t length = 0;
    bool done = false;    // read; later bytes are ignored
    std::string cors;     // CORS header lines for the answer (/session, /cmd)
  };
  bool isCommand() const noexcept { return body_ && body_->use == BodyUse::Command; }
  std::string_view corsReply() const noexcept { return body_ ? std::string_view(body_->cors) : std::string_view(); }
  struct StreamState {    // GET /events
    bool eventStream = false;  // SSE; else long-poll
    std::string poll;          // long-poll: msgs gathered for the answer (a JSON array's elements)
    std::string cors;          // CORS header lines for the long-poll answer
  };
  // What an authenticated connection keeps of its token: small; the grants are shared.
  struct Session {
    std::string user;
    int64_t exp = 0;
    std::shared_ptr<const Grants> grants;
    uint64_t serial = 0;  // names the connection in the auth reply ("conn")
    bool canSubscribe(std::string_view ch) const noexcept;
    bool canPublish(std::string_view ch) const noexcept;
  };
  void startSession(TokenClaims&& claims);
  struct WriteRequest {
    uv_write_t req;
    std::vector<OutChunk> chunks;
  };
  // Only while the socket is backed up (libuv holds a write): what waits behind it.
  struct Backlog {
    std::vector<OutChunk> queue;
    WriteRequest* inflight = nullptr;
    size_t bytes = 0;             // queue + inflight, not yet written
    uint64_t stalledSinceMs = 0;  // when libuv took the write that is still pending
  };
  static constexpr uint32_t kNoFrame = UINT32_MAX;
  void queueFrame(SharedFrame frame);
  void dropPending();
  size_t queuedBytes() const noexcept { return pendingBytes_ + (backlog_ ? backlog_->bytes : 0); }
  void writeBacklog();
  struct DeadlineNode : TimerNode {
    Connection* connection = nullptr;
  };

  explicit Connection(Frontend& frontend);
  ~Connection() = default;

  void onRead(ssize_t nread, const uv_buf_t* buf);
  void onHttpBytes(std::string_view bytes);
  void serveHttp(const HttpRequest& request, std::string_view rest);
  void finishHttp(std::string response);
  void startBody(const HttpRequest& request, std::string_view rest, BodyUse use, std::string op,
                 std::string cors = {});
  void onBody(std::string_view bytes);
  void serveApi(const HttpRequest& request, std::string_view rest);
  Task apiCall(std::string op, std::string body);
  std::string corsHeaders(const HttpRequest& request) const;
  bool adoptSession(std::string_view sid);
  void createSession(std::string_view body);
  void runCommand(std::string_view body);
  void openEvents(const HttpRequest& request);
  void finishPoll();
  // A reply to a request: a text frame on a WebSocket, the HTTP response of a /cmd.
  void sendReply(std::string_view json);
  // A message or resync object for this connection only (recovery, HTTP fallback).
  void deliverOwn(std::string_view channel, uint64_t epoch, uint64_t seq, std::string_view json);
  void onWritten(WriteRequest* request, int status);
  void afterFlushed();
  void setDeadline(uint64_t deadlineMs);
  void onDeadline();
  void armWebSocketDeadline();
  bool takeRateToken();
  void countForbidden();
  void handleRequest(std::string_view payload);
  void handleAuth(const ClientRequest& request);
  void handleSub(const ClientRequest& request);
  void handleUnsub(const ClientRequest& request);
  void replyOk(int64_t id);
  void replyError(const ClientRequest& request, std::string_view code, std::string_view message);
  void replyError(int64_t id, bool hasId, std::string_view code, std::string_view message);
  Channel* findSubscription(std::string_view name) const;
  void leaveAll();

  void replySubscribed(int64_t id, const Channel& channel, std::optional<bool> recovered);
  void abandonJoin(Channel* channel);

  Task subscribe(int64_t id, std::string channel, std::optional<Since> since);
  Task publish(int64_t id, std::string channel, std::string cid, std::string data);
  Task history(int64_t id, std::string channel, uint64_t before, uint64_t after, uint32_t limit);

  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onReadCb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void onWriteCb(uv_write_t* req, int status);
  static void onShutdownCb(uv_shutdown_t* req, int status);
  static void onCloseCb(uv_handle_t* handle);

  uv_tcp_t tcp_{};
  Frontend& frontend_;
  Phase phase_ = Phase::Http;
  bool shutdownAfterFlush_ = false;
  bool closeSent_ = false;
  bool countedWebSocket_ = false;
  bool tooSlow_ = false;
  uint16_t closeCode_ = 1006;
  WsFrameParser ws_;
  DeadlineNode deadline_;
  std::unique_ptr<HttpRequestParser> http_;  // only until the request head is parsed
  std::unique_ptr<Session> session_;         // after auth
  std::unique_ptr<PendingBody> body_;        // a POST body while it arrives
  std::unique_ptr<StreamState> stream_;      // GET /events
  std::vector<Channel*> channels_;
  PendingOp* pending_ = nullptr;             // waiting coroutines (hub calls, joins)
  uint32_t pendingHead_ = kNoFrame;          // this iteration's frames (Frontend::pendingFrame)
  uint32_t pendingTail_ = kNoFrame;
  uint32_t pendingBytes_ = 0;
  std::unique_ptr<Backlog> backlog_;         // only while the socket is backed up
  // Liveness and pacing. The one deadline node serves them all: it is set to the earliest of the
  // auth deadline / token expiry, the next idle check, the pong deadline and the write deadline,
  // and re-evaluated when it fires (reads only record the time; they never touch the wheel).
  uint64_t authOrExpiryMs_ = 0;
  uint64_t lastReadMs_ = 0;
  uint64_t pongDeadlineMs_ = 0;     // 0: no ping outstanding
  uint64_t rateRefillMs_ = 0;
  uint32_t rateTokensMilli_ = 0;    // token bucket, in thousandths of a request
  uint32_t forbidden_ = 0;
};

}  // namespace webim
