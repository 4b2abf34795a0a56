// One frontend process: one libuv loop that accepts browsers, speaks the client protocol through
// Connection objects, and relays to the hub through HubLink. Owns everything shared by the
// connections of the loop: the read buffer, the timer wheel, the JSON decoder, the socket set, the
// channels' streams. frontend.cpp is the process shell (start, accept, flush, signals, kicks);
// drain.cpp the drain (SIGTERM), reload.cpp the reload (SIGHUP); channel_routing.cpp the I/O side
// of the channels' streams and the routed inboxes.
#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/client_request.h"
#include "common/json_reader.h"
#include "common/session_id.h"
#include "common/timer_wheel.h"
#include "common/token.h"
#include "common/websocket_handshake.h"
#include "common/ws_frame.h"
#include "frontend/admin_listener.h"
#include "frontend/channel_index.h"
#include "frontend/channel_presence_reporter.h"
#include "frontend/channel_stream.h"
#include "frontend/delivery.h"
#include "frontend/epoll_set.h"
#include "frontend/watch_table.h"
#include "frontend/frontend_config.h"
#include "frontend/grants.h"
#include "frontend/http_api.h"
#include "frontend/inbox_attacher.h"
#include "frontend/hub_link.h"
#include "frontend/metrics.h"
#include "frontend/read_retry.h"
#include "frontend/read_sub_cursors.h"
#include "frontend/replay_pacer.h"
#include "frontend/revocations.h"
#include "frontend/static_files.h"

namespace webim {

class Connection;
struct DrainState;

class Frontend final : private ChannelStreamPort {
 public:
  explicit Frontend(const FrontendConfig& config);
  Frontend(const Frontend&) = delete;
  Frontend& operator=(const Frontend&) = delete;
  ~Frontend();

  // Runs until SIGINT/SIGTERM and the drain after it (drain.cpp); returns the process exit code.
  int run();
  // SIGHUP re-reads the token secrets, the API keys and the allowed origins (reload.cpp) through
  // this: it fills a fresh configuration as at start, or says why it cannot.
  using Reloader = std::function<bool(FrontendConfig& fresh, std::string& error)>;
  void setReloader(Reloader reloader) { reloader_ = std::move(reloader); }
  // From the first moment of a drain (SIGTERM) until the exit: /readyz fails.
  bool draining() const { return draining_; }

  uv_loop_t* loop() noexcept { return &loop_; }
  uint64_t nowMs() const noexcept { return uv_now(const_cast<uv_loop_t*>(&loop_)); }
  int64_t wallSeconds() const noexcept;
  const FrontendConfig& config() const noexcept { return config_; }
  TimerWheel& wheel() noexcept { return wheel_; }
  // The hub owning `channel` (by slot), and the first hub for requests without a channel.
  HubLink& hubFor(std::string_view channel) noexcept { return *hubs_[config_.slotMap->shardOf(channel)]; }
  HubLink& anyHub() noexcept { return *hubs_.front(); }
  RequestDecoder& decoder() noexcept { return decoder_; }
  // For the HTTP side's small JSON bodies and replies; one per loop, like the decoder (views into
  // it are valid until its next read).
  JsonObjectReader& jsonReader() noexcept { return jsonReader_; }
  SubCursorTable& subCursors() noexcept { return subCursors_; }  // read cursors of sub replies
  const TokenVerifier& verifier() const noexcept { return verifier_; }
  const SessionIds& sessionIds() const noexcept { return sessionIds_; }
  // The channels held here and their streams (joining, filling, going live).
  ChannelStream& stream() noexcept { return stream_; }
  Metrics& metrics() noexcept { return metrics_; }
  ReplayPacer& replayPacer() noexcept { return replayPacer_; }
  UserCounts& userCounts() noexcept { return userCounts_; }
  AddressCounts& addressCounts() noexcept { return addressCounts_; }
  // The address a connection was counted under (only with max_connections_per_address).
  std::unordered_map<const Connection*, AddressKey>& countedAddresses() noexcept { return countedAddresses_; }
  UserRateLimits& commandRates() noexcept { return commandRates_; }
  const WsLimits& wsLimits() const noexcept { return wsLimits_; }
  const HandshakePolicy& handshakePolicy() const noexcept { return handshakePolicy_; }
  const ApiKeys& apiKeys() const noexcept { return apiKeys_; }
  const StaticFile* staticFile(std::string_view path) const { return staticFiles_.find(path); }
  std::string renderMetrics() const;
  // Why this process should get no new clients (the /readyz body), or empty when it is ready:
  // not accepting yet, draining, or a hub not heard from within hub_timeout_ms.
  std::string notReadyReason() const;
  // A catch-up read (history for a fill, a recovery, a joiner's position) ended in `result`, not a
  // page: the pause before trying again, or nullopt when it is final or `retry`'s budget is spent.
  std::optional<uint64_t> retryPause(ReadRetry& retry, const HubResult& result);

  // The one read buffer of the loop (no per-connection read buffer while idle).
  uv_buf_t readBuffer() noexcept { return uv_buf_init(readBuffer_.get(), kReadBufferBytes); }
  // Queues `connection` to be flushed at the end of this loop iteration (one sendmsg per socket).
  void markDirty(Connection* connection);
  // Frames queued this loop iteration (see PendingFrame): append one, reach one by index.
  uint32_t appendPendingFrame(SharedFrame frame);
  PendingFrame& pendingFrame(uint32_t index) noexcept { return pendingFrames_[index]; }
  std::vector<OutChunk>& writeScratch() noexcept { return writeScratch_; }

  // The connections' sockets (EpollSet).
  EpollSet& sockets() noexcept { return sockets_; }
  // A destroyed connection leaves the socket set now and is freed at the end of this loop iteration.
  void forgetConnection(Connection* connection, int fd);
  // The loop's frame parser for the bytes of every connection between frames (a connection keeps
  // its own only while a frame is split across reads).
  WsFrameParser& wsParser() noexcept { return wsParser_; }

  uint64_t nextConnectionSerial() noexcept { return ++connectionCounter_; }
  GrantsRef internGrants(std::vector<std::string> subscribe, std::vector<std::string> publish,
                         std::vector<std::string> presence = {}) {
    return grants_.intern(std::move(subscribe), std::move(publish), std::move(presence));
  }
  // User presence (presence_attach.cpp): `user` got its first authenticated connection here, or lost
  // its last one; the hub holding its inbox learns it with the next inbox changes.
  void userPresenceChanged(std::string_view user);
  // Whether this frontend holds `user` at its hub: an authenticated connection or an inbox subscriber.
  bool holdsUser(std::string_view user);
  HubLink& hubOfShard(size_t shard) noexcept { return *hubs_[shard]; }
  size_t shardCount() const noexcept { return hubs_.size(); }
  // The watchlist (watch_link.cpp): a connection's watched users (its token's `watch` claim, a
  // refresh replaces them), and their end when the connection goes (before its fd is closed).
  void setWatches(int fd, std::vector<std::string> users);
  void clearWatches(int fd);
  const WatchTable& watchTable() const noexcept { return watches_; }
  size_t shardOfUser(std::string_view user);
  // Whether a kick revoked this token or sid: its user was kicked at or after its iat (a token
  // without iat: kicked at all, within the revocation window).
  bool isRevoked(const TokenClaims& claims) const { return revocations_.isRevoked(claims); }
  // `subscriber` became a live subscriber of `channel` (channel presence: channel_presence.cpp).
  void subscriberJoined(const Channel& channel, const Connection& subscriber);

 private:
  static constexpr size_t kReadBufferBytes = 64 * 1024;
  static constexpr int64_t kTokenLeewaySeconds = 30;  // clock skew allowed for exp, nbf and the lifetime

  void listen();
  void listenPrivate();
  void startAccepting();
  // channel_routing.cpp: the I/O side of the channels' streams (ChannelStreamPort).
  void channelOpened(std::string_view name) override;
  void channelClosed(std::string_view name) override;
  void fetchFill(Channel& channel, uint64_t after) override;
  Task readFillPage(Channel* channel, uint64_t after);
  void deliver(Channel& channel, const wire::Delivery& delivery) override;
  void resync(Channel& channel, uint64_t epoch, uint64_t seq) override;
  void deliverSignal(Channel& channel, const wire::Delivery& delivery) override;
  size_t fanOut(Channel& channel, const wire::Delivery& delivery);
  void onKick(const wire::Kick& kick);
  // Reads a hub's stored kicks (Revocations), at start and after the hub restarted.
  Task loadRevocations(size_t shard);
  // Inboxes (user:<id>) are routed by the hub to this frontend's own topic: the net attach/detach
  // changes of each loop iteration go out in chunks (InboxAttacher), attaches retried until the
  // hub holds them; everything is attached again when the hub restarts (a new boot id).
  void onHubBoot(size_t shard, uint64_t bootId);
  void inboxChanged(std::string_view inboxChannel);
  void flushInboxChanges();
  Task attachInboxes(size_t shard, std::vector<std::string> users, bool synced = false);
  // Presence (presence_attach.cpp): after a hub's boot id, its authenticated users are attached
  // again, and the last chunk says so (Attach.synced: the hub stops answering "settling").
  void reattachPresence(size_t shard);
  void markPresenceSynced(std::vector<InboxAttacher::Chunk>& chunks);
  // The watchlist's hub side (watch_link.cpp).
  void watchUsers(const std::vector<std::string>& users, bool unwatch);
  Task watchShard(size_t shard, std::vector<std::string> users);
  void rewatch(size_t shard);
  void onWatchEvent(const wire::WatchEvent& event);
  void tellWatchers(const std::string& user, const WatchTable::Status& status, const std::vector<int32_t>& fds);
  void onSubDelivery(const wire::Delivery& delivery);
  void scheduleInboxRetry();
  // channel_presence.cpp: the live subscribers of presence channels, reported to their hubs at
  // the end of each loop iteration (ChannelPresenceReporter), all again after a hub restarted.
  void subscriberLeft(Channel& channel, Connection& subscriber) override;
  void flushPresenceChanges();
  // drain.cpp: SIGTERM/SIGINT. The listen queue is accepted and the listener closed, then the
  // connections are sent away over drain_window_ms; a second signal sends the rest away at once.
  void startDrain();
  void drainStep();
  void finishStop();
  // reload.cpp: SIGHUP.
  void reload();
  void flushDirty();
  static void onAcceptable(uv_poll_t* handle, int status, int events);
  // True when the listen queue is empty (EAGAIN), false after a full batch or an error.
  bool acceptPending();
  static void onSignal(uv_signal_t* handle, int signum);
  static void onTick(uv_timer_t* handle);
  void trimHeapAfterDrop();
  static constexpr uint64_t kTrimMinPeak = 1000;      // below this, not worth a trim
  static constexpr uint64_t kTrimIntervalMs = 5000;
  static void onCheck(uv_check_t* handle);

  const FrontendConfig& config_;
  uv_loop_t loop_{};
  uv_poll_t listener_{};
  AdminListener adminListener_;  // admin_listen: /metrics, /healthz, /readyz, /api of this process
  EpollSet sockets_;
  std::vector<Connection*> destroyed_;      // freed at the end of this loop iteration
  int listenFd_ = -1;
  int reserveFd_ = -1;  // given up to accept-and-close a connection when out of file descriptors
  uv_signal_t sigint_{};
  uv_signal_t sigterm_{};
  uv_signal_t sighup_{};
  Reloader reloader_;
  uv_timer_t tick_{};
  uv_check_t check_{};
  uv_idle_t flushIdle_{};  // keeps the loop from blocking in poll while writes are queued
  TimerWheel wheel_;
  zmq::context_t zmqContext_{1};               // the process's one ZeroMQ context; outlives the links
  std::vector<std::unique_ptr<HubLink>> hubs_;  // one per shard
  RequestDecoder decoder_;
  JsonObjectReader jsonReader_;
  SubCursorTable subCursors_;
  TokenVerifier verifier_;
  SessionIds sessionIds_;
  Metrics metrics_;
  ChannelStream stream_{*this, metrics_};
  ReplayPacer replayPacer_;
  UserCounts userCounts_;
  AddressCounts addressCounts_;
  std::unordered_map<const Connection*, AddressKey> countedAddresses_;
  UserRateLimits commandRates_;
  WsLimits wsLimits_;
  WsFrameParser wsParser_{&wsLimits_};
  HandshakePolicy handshakePolicy_;
  ApiKeys apiKeys_;
  std::unique_ptr<char[]> readBuffer_;
  std::vector<Connection*> dirty_;
  std::vector<PendingFrame> pendingFrames_;
  std::vector<OutChunk> writeScratch_;
  StaticFiles staticFiles_;
  std::string deliveryScratch_;
  PendingOp* fills_ = nullptr;  // frontend-level hub requests: gap fills, inbox attaches
  uint64_t bootId_ = 0;  // random per process: tells the hubs a restart from a second process with our id
  InboxAttacher inboxes_;
  ChannelPresenceReporter presence_;
  struct InboxRetry : TimerNode {
    Frontend* frontend = nullptr;
  } inboxRetry_;
  uint64_t nextAttachWarnMs_ = 0;
  std::vector<uint64_t> hubBootIds_;  // per shard
  WatchTable watches_;
  std::vector<uint8_t> presenceSyncDue_;  // per shard: the next attaches end a full re-attach (Attach.synced)
  Revocations revocations_;
  std::vector<bool> revocationsLoaded_;  // per shard: its hub answered once
  bool accepting_ = false;
  struct AcceptStart : TimerNode {
    Frontend* frontend = nullptr;
  } acceptStart_;
  uint64_t connectionCounter_ = 0;
  GrantSets grants_;
  uint64_t nextAcceptWarnMs_ = 0;
  uint64_t peakConnections_ = 0;
  uint64_t nextTrimMs_ = 0;
  bool stopping_ = false;
  bool draining_ = false;
  std::unique_ptr<DrainState> drain_;
  uint64_t deliveryStartNs_ = 0;  // the first hub delivery of this loop iteration (delivery flush histogram)
  struct AcceptPause : TimerNode {
    Frontend* frontend = nullptr;
  } acceptPause_;
  struct ShutdownTimer : TimerNode {
    Frontend* frontend = nullptr;
  } shutdownTimer_;
};

}  // namespace webim
