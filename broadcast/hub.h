// The hub's event loop: one thread, one zmq_poll over the app ingress (ROUTER, JSON), the
// frontend ingress (ROUTER, protobuf) and the publish socket (XPUB).
//
// One iteration: complete the batches whose sync finished, drain subscription messages (answering
// each subscribe with a sync marker), then one bounded batch from both ingresses in three steps
// (docs/architecture.md "Durability", "Pipelined group commit"):
//  (a) decode each request (HubRequestDecoder, pure: hub_request.h);
//  (b) sequence and stage it (Sequencer, frontend admission, inbox attach), then write ONE store
//      batch (group commit); the batch waits in flight for its sync (SyncWorker, a thread) while
//      the loop goes on with the next ones;
//  (c) once the batch is durable, in order: reply to every request in arrival order (acks only
//      now, so a client's history read sees its own publish), then publish (Publisher): the
//      batch's kicks and messages.
// When a write or a sync fails every publish of the batches concerned is answered `unavailable`
// and the sequencer rolls back, so nothing past the durable seq is ever acked or published.
//
// Files: hub.cpp (loop, between batches), hub_ingress.cpp (sockets, receive, send),
// hub_staging.cpp (step b per request), hub_commit.cpp (write, sync, completion),
// hub_replies.cpp (step c replies).
#pragma once

#include <chrono>
#include <csignal>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>
#include <zmq.hpp>

#include "broadcast/app_request.h"
#include "broadcast/channel_presence_table.h"
#include "broadcast/erase_job.h"
#include "broadcast/delivery_mode.h"
#include "broadcast/frontend_registry.h"
#include "broadcast/history_store.h"
#include "broadcast/hub_config.h"
#include "broadcast/hub_metrics.h"
#include "broadcast/hub_request.h"
#include "broadcast/inbox_router.h"
#include "broadcast/notice_outbox.h"
#include "broadcast/metrics_server.h"
#include "broadcast/presence_grace.h"
#include "broadcast/presence_settling.h"
#include "broadcast/publisher.h"
#include "broadcast/retention.h"
#include "broadcast/sequencer.h"
#include "broadcast/sync_worker.h"
#include "broadcast/zap_server.h"
#include "common/presence_namespaces.h"
#include "proto/webim.pb.h"

namespace webim::hub {

class Hub {
 public:
  Hub(const HubConfig& config, HistoryStore& store, zmq::context_t& context);

  // Binds the three sockets; throws zmq::error_t (the caller names the endpoint).
  void bindAppIngress();
  void bindHubIngress();
  void bindHubPub();
  // The metrics endpoint (metrics_listen; nothing when empty). Throws zmq::error_t.
  void bindMetrics();
  // The endpoints actually bound (tcp port 0 / '*' resolved).
  std::string boundEndpoints() const;

  // Once bound, before run(): reads and stores the run marker (the generation of this run's
  // epochs of fast namespaces, run_marker.h). Throws HistoryStoreError.
  void beginRun();
  // Runs until *stop becomes non-zero (set from a signal handler); finishes the current batch.
  void run(const volatile std::sig_atomic_t* stop);
  // When *flag becomes non-zero (SIGHUP) the loop rereads the CURVE allow-lists and clears it.
  void setReloadFlag(volatile std::sig_atomic_t* flag) { reload_ = flag; }

 private:
  // One request of a batch, from its decoding to its reply.
  struct Request {
    std::vector<zmq::message_t> envelope;  // every frame before the body, echoed in the reply
    ReplyForm form = ReplyForm::Frontend;
    uint64_t reqId = 0;                    // frontend requests only
    HubRequest request;                    // staging may turn it into a RequestError
    PublishOutcome outcome;                // PublishRequest, once sequenced
    std::vector<ChannelMeta> positions;    // AttachRequest: each inbox's position when it was read
    int64_t kickNotBeforeMs = 0;           // KickRequest, once staged
  };
  // A batch written and waiting for its sync (or behind one that is).
  struct InFlight {
    std::vector<Request> requests;
    uint64_t ticket = 0;  // durable once the sync worker reports this ticket
    bool wrote = false;   // it had records to write
    bool fastPublished = false;  // its fast namespaces' messages went out once written
    size_t bytes = 0;            // of its messages (inFlightBytes_)
    std::chrono::steady_clock::time_point writeStart{};  // the commit latency histogram
  };

  // Sockets, and step (a): receive and decode (hub_ingress.cpp).
  void configureSockets(zmq::context_t& context);
  void bindPrivate(zmq::socket_t& socket, const std::string& endpoint, bool appIngress);
  void servePeers();
  void reloadPeerLists();
  void drainSubscriptions();
  size_t receive(zmq::socket_ref socket, bool fromApp, std::vector<Request>& batch, size_t room);
  void send(zmq::socket_ref socket, std::vector<zmq::message_t>& envelope, const std::string& body);

  // Step (b), sequencing and commit (hub.cpp, hub_staging.cpp).
  void stage(Request& r);
  void stagePublish(Request& r, PublishRequest& publish);
  void stageEdit(Request& r, PublishRequest& publish);  // hub_edits.cpp
  std::optional<StoredMessage> editTarget(const std::string& channel, uint64_t seq, bool& deletedInBatch);
  void stageAttach(Request& r, const AttachRequest& attach);
  void stageDetach(const DetachRequest& detach);
  bool admitFrontend(Request& r, const std::string& id, uint64_t boot);
  bool probeFrontend(std::string_view routingId, const std::string& id, uint64_t newBoot);
  void expireFrontends();
  // The pipelined group commit (hub_commit.cpp).
  void startSyncWorker();
  void syncStore();
  bool syncInline() const;
  void processBatch(std::vector<Request>& batch);
  bool writeBatch(bool whole);
  void completeDurable();
  void waitForOldest();
  void drainInFlight();
  bool takeSyncResult(const SyncWorker::Result& result);
  void completeOldest();
  void failInFlight(const std::string& error);
  void commitFailedLog(size_t messages, const std::string& error);
  // Fast delivery (delivery_mode.h, run_marker.h): the run marker at a clean stop; the epoch
  // every generational channel takes (from the store's seed and the run's generation); a new
  // generation when fast messages were published and then lost.
  void endRun();
  uint64_t epochFor(std::string_view channel) const;
  // Rolls the sequencer back after a failed commit; fast channels told past their durable seq move
  // to new epochs and their subscribers are told (a sync each, next round).
  void rollBackSequencer();
  void newFastGeneration(const std::vector<std::string>& shownLost);

  // Step (c), replies (hub_replies.cpp) and publishes (publishBatch, Publisher).
  void reply(Request& r, bool committed);
  void replyError(Request& r, const std::string& code, const std::string& message);
  void replyApp(Request& r, const std::string& json);
  void replyFrontend(Request& r, wire::HubReply& reply);
  void answer(Request& r, const RequestError& error);
  void answer(Request& r, const PublishRequest& publish);
  void answer(Request& r, const HistoryRequest& history);
  void answer(Request& r, const StatsRequest& stats);
  void answer(Request& r, const KickRequest& kick);
  void answer(Request& r, const HelloRequest& hello);
  void answer(Request& r, const AttachRequest& attach);
  void answer(Request& r, const DetachRequest& detach);
  void answer(Request& r, const RevocationsRequest& revocations);
  void answer(Request& /*r*/, const SignalRequest& /*signal*/) {}  // published in receive(), never batched
  // Read cursors (hub_reads.cpp): a batch's reads and unread queries, staged before its requests.
  void stageReads(std::vector<Request>& batch);
  void answer(Request& r, const ReadCursorRequest& read);
  void answer(Request& r, const UnreadRequest& unread);
  void answer(Request& /*r*/, const ReadNoticeRequest& /*notice*/) {}  // published in receive(), never batched
  void publishReceipts(const std::vector<Request>& batch);
  bool receiptsFor(std::string_view channel) const;
  void answer(Request& r, const OnlineRequest& online);  // hub_presence.cpp
  void answer(Request& r, const WatchRequest& watch);    // hub_watch.cpp
  void stageWatch(Request& r, const WatchRequest& watch);
  bool holds(const std::string& user) const;
  // Each user's status now into `out` (online, else settling or last seen); false when the store
  // could not be read (`error` says why).
  bool onlineStates(const std::vector<std::string>& users, google::protobuf::RepeatedPtrField<wire::OnlineState>& out,
                    std::string& error);
  void userCameOnline(const std::string& user);
  void watchHousekeeping();
  uint64_t sinceStartMs() const;
  void stageLastSeen();  // the users who went offline, into the pending batch (hub_presence.cpp)
  void answer(Request& /*r*/, const PresenceUpdateRequest& /*update*/) {}  // taken in receive() (takePresence)
  void answer(Request& /*r*/, const PresenceQueryRequest& /*query*/) {}    // answered in receive() (takePresence)
  // Conversations (hub_conversations.cpp): dm notices, the conversation index, its pages.
  void stageDmNotices(const std::string& dm, uint64_t seq, const std::string& from, int64_t tsMs);
  void stageRemoteNotice(const std::string& user, const std::string& dm, uint64_t seq, const std::string& from,
                         int64_t tsMs);
  void answer(Request& /*r*/, const ConversationTouchRequest& /*touch*/) {}  // staged, never answered
  void stageNotice(ConversationTouch touch);
  // The outbox of dm notices for other shards (hub_outbox.cpp, notice_outbox.h).
  void startOutbox();
  void addPeerPollItems(std::vector<zmq::pollitem_t>& items);
  std::chrono::milliseconds outboxWait(std::chrono::milliseconds wait) const;
  void outboxCommitted(const std::vector<OutboxEntry>& entries);
  void reloadOutbox();
  void outboxStep();
  void sendNotice(const NoticeOutbox::Send& send, uint64_t nowMs);
  void logUnreachablePeers();
  std::vector<std::unique_ptr<zmq::socket_t>> peers_;  // by shard index: a DEALER to each other hub
  std::unique_ptr<NoticeOutbox> outbox_;               // null without peers
  bool outboxReloadDue_ = false;
  std::chrono::steady_clock::time_point nextOutboxLog_{};
  void answer(Request& r, const ConversationsRequest& request);
  // Erasing a user (hub_erase.cpp, erase_job.h).
  void answer(Request& r, const EraseUserRequest& erase);
  void answer(Request& r, const EraseStatusRequest& status);
  void stageErase(Request& r, const EraseUserRequest& erase);
  void loadEraseJobs();
  void saveEraseJobs();
  void eraseStep();
  HistoryPage readHistory(const HistoryRequest& h, size_t maxBytes);
  void publishBatch(const std::vector<Request>& batch, const std::vector<StoredMessage>& messages, bool fastPublished);
  HubStats snapshotStats();

  // Channel presence (hub_presence.cpp): reports and queries are taken in receive(), outside the
  // batch (nothing to store); join/leave events go out between batches.
  bool takePresence(Request& r);
  void answerPresence(Request& r, const PresenceQueryRequest& query);
  void presenceStep();
  static uint64_t steadyMs();

  // The metrics endpoint (hub_metrics_io.cpp): answered between batches.
  void serveMetrics();
  std::string renderMetrics();

  // Between batches (hub.cpp).
  void housekeeping();
  void publishSyncs(const std::vector<std::string>& channels);
  void syncWritten();
  void trimRevocations();
  void retentionStep();

  // Batches written and waiting for their sync at most (one syncing, one written behind it).
  static constexpr size_t kMaxInFlight = 2;
  // With fast namespaces the loop keeps writing (and publishing those) while a slow sync runs, up
  // to this many batches or bytes of messages in flight: with two, a 400 ms sync held the fast
  // deliveries back as long as the durable ones (bench-disk-pressure).
  static constexpr size_t kMaxInFlightFast = 256;
  static constexpr size_t kMaxInFlightFastBytes = 64 << 20;
  bool inFlightFull() const {
    if (!modes_.anyFast()) return inFlight_.size() >= kMaxInFlight;
    return inFlight_.size() >= kMaxInFlightFast || inFlightBytes_ >= kMaxInFlightFastBytes;
  }
  // User-table slots walked per loop iteration while forgetting frontends (InboxRouter::forgetStep).
  static constexpr size_t kForgetSlots = 65536;
  // Inbox attaches taken into one batch, in users (receive()): a publish waits behind at most one
  // such batch (8,192 gave a publish p99 of 75-108 ms during a 100,000-user re-attach storm, 2,048
  // 50 ms, 1,024 no better; the storm took as long: docs/testing.md).
  static constexpr size_t kMaxAttachUsersPerBatch = 2048;
  // The largest request (one ZeroMQ message) answered; larger ones get too_large.
  size_t maxRequestBytes() const { return static_cast<size_t>(config_.maxDataBytes) + kEnvelopeSlackBytes; }
  static constexpr size_t kEnvelopeSlackBytes = 65536;  // request bytes beyond `data` (fields, JSON, envelope)
  int64_t nowMs() const;
  // At most one join/leave event per presence channel this often (ChannelPresenceTable).
  static constexpr uint64_t kPresenceEventIntervalMs = 200;
  static constexpr size_t kPresenceDeadlinesPerStep = 4096;  // graces and events per loop iteration
  static constexpr size_t kPresenceForgetMembers = 16384;    // members visited per loop iteration

  std::chrono::steady_clock::time_point nextSync_{};
  const HubConfig& config_;
  HistoryStore& store_;
  zmq::context_t& context_;  // the process's (main.cpp); outlives the hub
  zmq::socket_t app_;
  zmq::socket_t frontend_;
  zmq::socket_t pub_;
  DeliveryModes modes_;          // parsed from config_.fastNamespaces (validated at start)
  std::string epochSeed_;        // the store's (HistoryStore::epochSeed)
  uint64_t fastGeneration_ = 0;  // this run's (run_marker.h)
  bool fastLost_ = false;        // fast messages were published and then lost: never a clean stop
  Sequencer sequencer_;
  HubRequestDecoder decoder_;
  std::chrono::steady_clock::time_point started_;
  FrontendRegistry frontends_;  // which process speaks for each frontend id
  PresenceSettling settling_;   // presence right after the start (hub_presence.cpp)
  InboxRouter watchers_;        // the watchlist: watched user -> watching frontends (hub_watch.cpp)
  PresenceGrace grace_;         // watched users gone offline, told after presence_grace_ms
  std::chrono::steady_clock::time_point nextConflictLog_{};
  std::chrono::steady_clock::time_point nextRevocationTrim_{};  // hourly
  std::chrono::steady_clock::time_point nextEviction_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  InboxRouter inboxes_;
  PresenceNamespaces presenceNamespaces_;  // parsed from config_.presenceNamespaces (validated at start)
  ChannelPresenceTable presence_{{static_cast<size_t>(config_.presenceMaxMembers),
                                  static_cast<uint64_t>(config_.presenceGraceMs), kPresenceEventIntervalMs}};
  Publisher publisher_;  // on pub_, routing inboxes by inboxes_
  uint64_t bootId_ = 0;  // random per start: frontends re-attach their inboxes when it changes
  std::unordered_map<std::string, uint64_t> subscribers_;  // topic -> subscribe count
  uint64_t storedChannelsAtStart_ = 0;
  HubStats stats_;
  HubMetrics metrics_;
  std::unique_ptr<MetricsServer> metricsServer_;
  RetentionPolicy retentionPolicy_;  // parsed from config_.retention (validated at start)
  RetentionSweeper retention_;
  EraseJobs eraseJobs_;         // erase_user jobs (hub_erase.cpp)
  uint32_t eraseSlicesUnsaved_ = 0;
  // After a slice failed (a store error), the jobs wait until then: no busy retry loop.
  std::chrono::steady_clock::time_point eraseRetryAt_{};
  static constexpr auto kEraseRetryDelay = std::chrono::seconds(1);
  bool eraseDue() const { return !eraseJobs_.empty() && std::chrono::steady_clock::now() >= eraseRetryAt_; }
  uint64_t failedCommitsInRow_ = 0;  // store errors: log rate limit, recovery notice
  std::chrono::steady_clock::time_point nextCommitErrorLog_{};
  std::unique_ptr<ZapServer> zap_;  // with CURVE: which client keys each socket admits
  std::unique_ptr<SyncWorker> syncer_;  // with sync on a pipelined store
  std::deque<InFlight> inFlight_;       // oldest first
  uint64_t writtenTicket_ = 0;          // batches written through syncer_
  uint64_t durableTicket_ = 0;          // the last one reported durable
  size_t inFlightBytes_ = 0;            // messages' bytes of the batches in flight
  size_t attachUsersInBatch_ = 0;       // users of the inbox attaches in the batch being received
  volatile std::sig_atomic_t* reload_ = nullptr;
};

}  // namespace webim::hub
