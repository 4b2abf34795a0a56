// The hub's event loop: one thread, one zmq_poll over the app ingress (ROUTER, JSON), the
// frontend ingress (ROUTER, protobuf) and the publish socket (XPUB).
//
// One iteration: drain subscription messages (answering each subscribe with a sync marker), take
// up to max_batch requests from both ingresses, sequence every publish of the batch, write ONE
// store batch (group commit), and only after it succeeded reply and publish. When the write
// fails every publish of the batch is answered `unavailable` and the sequencer rolls back, so
// nothing past the durable seq is ever acked or published. Non-publish requests of the batch are
// answered after the commit, in arrival order, so a client's history read sees its own publish.
#pragma once

#include <chrono>
#include <csignal>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>
#include <zmq.hpp>

#include "broadcast/app_request.h"
#include "broadcast/frontend_registry.h"
#include "broadcast/history_store.h"
#include "broadcast/inbox_router.h"
#include "broadcast/hub_config.h"
#include "broadcast/retention.h"
#include "broadcast/sequencer.h"
#include "broadcast/zap_server.h"

namespace webim::hub {

class Hub {
 public:
  Hub(const HubConfig& config, HistoryStore& store, zmq::context_t& context);

  // Binds the three sockets; throws zmq::error_t (the caller names the endpoint).
  void bindAppIngress();
  void bindHubIngress();
  void bindHubPub();
  // The endpoints actually bound (tcp port 0 / '*' resolved).
  std::string boundEndpoints() const;

  // Runs until *stop becomes non-zero (set from a signal handler); finishes the current batch.
  void run(const volatile std::sig_atomic_t* stop);
  // When *flag becomes non-zero (SIGHUP) the loop rereads the CURVE allow-lists and clears it.
  void setReloadFlag(volatile std::sig_atomic_t* flag) { reload_ = flag; }

 private:
  struct Request;

  void configureSockets(zmq::context_t& context);
  void bindPrivate(zmq::socket_t& socket, const std::string& endpoint, bool appIngress);
  void servePeers();
  void reloadPeerLists();
  void drainSubscriptions();
  size_t receive(zmq::socket_ref socket, bool fromApp, std::vector<Request>& batch, size_t room);
  void decodeApp(Request& r, std::string_view body, std::string_view impliedOp = {});
  void replyApp(Request& r, const std::string& json);
  void decodeFrontend(Request& r, std::string_view body);
  void processBatch(std::vector<Request>& batch);
  void reply(Request& r, bool committed);
  void replyFrontendHistory(Request& r);
  HistoryPage readHistory(const Request& r, size_t maxBytes);
  void replyAppHistory(Request& r);
  void send(zmq::socket_ref socket, std::vector<zmq::message_t>& envelope, const std::string& body);
  bool publish(const std::string& channel, const std::string& payload, bool whole = false);
  bool publishRouted(const std::string& channel, const std::string& payload, bool whole = false);
  void expireFrontends();
  std::string commitPending();
  void stageKick(Request& r);
  void trimRevocations();
  bool admitFrontend(Request& r, const std::string& id, uint64_t boot);
  bool probeFrontend(std::string_view routingId, const std::string& id, uint64_t newBoot);
  // The largest request (one ZeroMQ message) answered; larger ones get too_large.
  size_t maxRequestBytes() const { return static_cast<size_t>(config_.maxDataBytes) + kEnvelopeSlackBytes; }
  static constexpr size_t kEnvelopeSlackBytes = 65536;  // request bytes beyond `data` (fields, JSON, envelope)
  bool owns(const std::string& channel) const;
  std::string wrongShardMessage(const std::string& channel) const;
  void publishSyncs(const std::vector<std::string>& channels);
  void syncWritten();
  static std::string syncMarker(const std::string& channel, const ChannelMeta& meta);
  HubStats snapshotStats();
  int64_t nowMs() const;

  struct SyncsDue {
    int rounds;    // syncs still to send (each queued to every subscribed frontend)
    int attempts;  // rounds left to try in (a frontend whose pipe stays full does not hold it forever)
  };
  std::unordered_map<std::string, SyncsDue> written_;  // recently written channels
  std::chrono::steady_clock::time_point nextSync_{};
  const HubConfig& config_;
  HistoryStore& store_;
  zmq::socket_t app_;
  zmq::socket_t frontend_;
  zmq::socket_t pub_;
  Sequencer sequencer_;
  AppRequestDecoder appDecoder_;
  std::chrono::steady_clock::time_point started_;
  FrontendRegistry frontends_;  // which process speaks for each frontend id
  std::chrono::steady_clock::time_point nextConflictLog_{};
  std::chrono::steady_clock::time_point nextRevocationTrim_{};  // hourly
  std::chrono::steady_clock::time_point nextEviction_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  InboxRouter inboxes_;
  uint64_t bootId_ = 0;  // random per start: frontends re-attach their inboxes when it changes
  std::unordered_map<std::string, uint64_t> subscribers_;  // topic -> subscribe count
  uint64_t storedChannelsAtStart_ = 0;
  HubStats stats_;
  RetentionPolicy retentionPolicy_;  // parsed from config_.retention (validated at start)
  RetentionSweeper retention_;
  void retentionStep();
  uint64_t failedCommitsInRow_ = 0;  // store errors: log rate limit, recovery notice
  std::chrono::steady_clock::time_point nextCommitErrorLog_{};
  std::unique_ptr<ZapServer> zap_;  // with CURVE: which client keys each socket admits
  volatile std::sig_atomic_t* reload_ = nullptr;
};

}  // namespace webim::hub
