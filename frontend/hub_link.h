// The frontend's two ZeroMQ sockets to the hub, driven from the libuv loop:
//  - a DEALER to the hub's frontend ingress for requests (publish, history, hello) and their replies;
//  - a SUB to the hub's XPUB, subscribed to exactly the channels that have local subscribers.
// ZMQ_FD is edge-triggered: after every send and on every wakeup we drain while ZMQ_EVENTS says
// POLLIN, in bounded batches, continuing from a uv_idle when more is left (docs/architecture.md).
#pragma once

#include <uv.h>

#include <functional>
#include <string_view>
#include <unordered_map>
#include <zmq.hpp>

#include "common/timer_wheel.h"
#include "frontend/frontend_config.h"
#include "frontend/task.h"
#include "proto/webim.pb.h"

namespace webim {

class HubLink;

struct HubResult {
  WaitStatus status = WaitStatus::Failed;
  wire::HubReply reply;
};

// One request to the hub, awaited by a coroutine: `HubResult r = co_await call;`.
// Completes with Done (reply arrived), TimedOut (no reply by the deadline), Failed (could not be
// sent) or Cancelled (the owner closed). The request is sent in the constructor. Several calls may
// be made before the first is awaited (shard_asks.h): one that completes meanwhile keeps its result,
// and one destroyed unawaited (its coroutine returned early) forgets its request.
class HubCall final : public PendingOp {
 public:
  HubCall(HubLink& hub, PendingOp*& ownerList, wire::FrontendRequest& request, uint64_t deadlineMs);
  ~HubCall() override;
  bool await_ready() const noexcept { return sendFailed_ || completed(); }
  HubResult await_resume() { return {sendFailed_ ? WaitStatus::Failed : status_, std::move(reply_)}; }

 private:
  friend class HubLink;
  void detach() noexcept override;

  HubLink& hub_;
  uint64_t reqId_ = 0;
  bool sendFailed_ = false;
  wire::HubReply reply_;
};

class HubLink {
 public:
  using DeliveryHandler = std::function<void(const wire::Delivery&)>;
  using KickHandler = std::function<void(const wire::Kick&)>;
  using BootHandler = std::function<void(uint64_t bootId)>;

  // One hub (shard): its frontend ingress and publish endpoints.
  // serverKey: the hub's CURVE public key (Z85), empty for a hub on loopback without CURVE.
  // bootId: this frontend process's random id (hello, attach, detach: see wire::Hello).
  // context: the process's one ZeroMQ context (it outlives the link); shard: this link's index, naming
  // its inproc monitor endpoint in that context.
  HubLink(uv_loop_t* loop, zmq::context_t& context, size_t shard, TimerWheel& wheel, const FrontendConfig& config,
          uint64_t bootId, std::string ingress, std::string pub, std::string serverKey, DeliveryHandler onDelivery,
          KickHandler onKick, BootHandler onHubBoot);
  HubLink(const HubLink&) = delete;
  HubLink& operator=(const HubLink&) = delete;
  ~HubLink();

  // Connects both sockets and starts polling. Throws zmq::error_t on a bad endpoint.
  void start();
  // Stops polling and closes the sockets; the handles are closed through the loop.
  void close();

  void subscribe(std::string_view channel);
  void unsubscribe(std::string_view channel);
  // A request without a reply (req_id 0); false if it could not be queued.
  bool post(wire::FrontendRequest& request);

  size_t subscriptions() const noexcept { return subscriptions_; }
  // The hub's limit from its answer to our hello (0 until it answered): the frontend refuses what
  // the hub would, instead of forwarding it.
  uint64_t maxDataBytes() const noexcept { return hubInfo_.max_data_bytes(); }
  const std::string& ingress() const noexcept { return ingress_; }
  uint64_t repliesReceived() const noexcept { return replies_; }
  // Loop time (ms) of the hub's last reply (a hello is answered every heartbeat_ms); 0: none yet.
  uint64_t lastReplyMs() const noexcept { return lastReplyMs_; }
  // When the connection to the hub dropped (uv_now), if no handshake succeeded since; else 0.
  uint64_t lostSinceMs() const noexcept { return linkUp_ ? 0 : linkLostMs_; }
  uint64_t deliveriesReceived() const noexcept { return deliveries_; }

 private:
  friend class HubCall;
  static constexpr int kDrainBatch = 1024;

  bool send(wire::FrontendRequest& request);
  void sendHello();
  // A reply no call waits for: the answer to a hello, or a notice (req_id 0).
  void onUnclaimedReply(const wire::HubReply& reply);
  void scheduleDrain();
  void drain();
  bool drainDealer();
  bool drainSub();
  static void onPoll(uv_poll_t* handle, int status, int events);
  static void onIdle(uv_idle_t* handle);
  static void onMonitor(uv_poll_t* handle, int status, int events);
  void drainMonitor();
  void reconnect();  // after a refused CURVE handshake

  uv_loop_t* loop_;
  TimerWheel& wheel_;
  const FrontendConfig& config_;
  uint64_t bootId_;
  std::string ingress_;
  std::string pubEndpoint_;
  std::string serverKey_;
  DeliveryHandler onDelivery_;
  KickHandler onKick_;
  BootHandler onHubBoot_;
  std::string ownTopic_;  // "!fe:<id>\0": routed inbox messages and the hub's boot syncs
  wire::Kick kick_;
  zmq::context_t& context_;  // the process's one context (Frontend's)
  std::string monitorEndpoint_;  // inproc, one per link in that context
  zmq::socket_t dealer_;
  zmq::socket_t sub_;
  uv_poll_t dealerPoll_{};
  uv_poll_t subPoll_{};
  uv_idle_t idle_{};
  zmq::socket_t monitor_;  // the dealer's handshakes (a refused key) and dropped connections
  uv_poll_t monitorPoll_{};
  bool linkUp_ = false;      // a handshake succeeded and the connection has not dropped since
  uint64_t linkLostMs_ = 0;  // when it dropped (uv_now); 0 before the first drop
  std::string curvePublicKey_;  // the key we present
  void noteLinkLost();
  void noteLinkUp();
  uint64_t authRefusals_ = 0;
  uint64_t nextAuthLogMs_ = 0;
  bool started_ = false;
  bool closed_ = false;
  struct HelloTimer : TimerNode {
    HubLink* link = nullptr;
  } helloTimer_;
  struct AuthRetry : TimerNode {
    HubLink* link = nullptr;
  } authRetry_;
  uint64_t nextReqId_ = 1;
  wire::HubInfo hubInfo_;
  uint64_t nextConflictLogMs_ = 0;
  std::unordered_map<uint64_t, HubCall*> pending_;
  std::string topic_;  // scratch for building "channel\0"
  wire::Delivery delivery_;
  size_t subscriptions_ = 0;
  uint64_t replies_ = 0;
  uint64_t lastReplyMs_ = 0;
  uint64_t deliveries_ = 0;
};

}  // namespace webim
