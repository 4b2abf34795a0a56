#include "frontend/hub_link.h"

#include <spdlog/spdlog.h>

#include <cstring>

#include "common/epoch.h"
#include "common/program/curve.h"
#include "common/program/logging.h"
#include "common/topics.h"

namespace webim {

namespace {
// Requests queue in the DEALER while the hub is away; beyond this many a publish fails at once
// ("unavailable") instead of waiting for a hub that may not come back before its deadline.
constexpr int kDealerSendHwm = 100'000;
// Deliveries buffered in the SUB before ZeroMQ starts dropping (gaps are filled from history later).
constexpr int kSubRcvHwm = 1'000'000;
}  // namespace

HubCall::HubCall(HubLink& hub, PendingOp*& ownerList, wire::FrontendRequest& request, uint64_t deadlineMs)
    : hub_(hub) {
  reqId_ = hub_.nextReqId_++;
  request.set_req_id(reqId_);
  if (!hub_.send(request)) {
    sendFailed_ = true;
    return;
  }
  hub_.pending_.emplace(reqId_, this);
  linkToOwner(ownerList);
  armDeadline(hub_.wheel_, deadlineMs);
}

void HubCall::detach() noexcept { hub_.pending_.erase(reqId_); }

HubCall::~HubCall() {
  if (sendFailed_ || completed()) return;
  detach();  // a late reply is then unclaimed, like one that timed out
  abandon();
}

HubLink::HubLink(uv_loop_t* loop, zmq::context_t& context, size_t shard, TimerWheel& wheel,
                 const FrontendConfig& config, uint64_t bootId, std::string ingress, std::string pub,
                 std::string serverKey, DeliveryHandler onDelivery, KickHandler onKick, BootHandler onHubBoot)
    : loop_(loop),
      wheel_(wheel),
      config_(config),
      bootId_(bootId),
      ingress_(std::move(ingress)),
      pubEndpoint_(std::move(pub)),
      serverKey_(std::move(serverKey)),
      onDelivery_(std::move(onDelivery)),
      onKick_(std::move(onKick)),
      onHubBoot_(std::move(onHubBoot)),
      ownTopic_(topicFor(frontendControl(config.id))),
      context_(context),
      monitorEndpoint_("inproc://hub-link-monitor-" + std::to_string(shard)) {}

HubLink::~HubLink() { close(); }

namespace {
constexpr uint64_t kAuthRetryMs = 10'000;  // after the hub refused our key
}  // namespace

void HubLink::start() {
  dealer_ = zmq::socket_t(context_, zmq::socket_type::dealer);
  if (!serverKey_.empty()) curvePublicKey_ = useCurveClient(dealer_, serverKey_, config_.curveSecretKey);
  // The hub's refusal of our key reaches us only as a monitor event: log it, or publishes would
  // just time out without a word. A dropped connection and a new handshake are the link's
  // lost / back lines (docs/deploy.md "Logs").
  if (zmq_socket_monitor(dealer_.handle(), monitorEndpoint_.c_str(),
                         ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED) != 0) {
    throw zmq::error_t();
  }
  monitor_ = zmq::socket_t(context_, zmq::socket_type::pair);
  monitor_.connect(monitorEndpoint_.c_str());
  dealer_.set(zmq::sockopt::sndhwm, kDealerSendHwm);
  dealer_.set(zmq::sockopt::rcvhwm, 0);  // replies are never dropped: each one completes a waiting request
  dealer_.set(zmq::sockopt::linger, 0);
  // One routing id per process: the hub tells a second process using this frontend id from a
  // restart of this one by it (wire::Hello).
  dealer_.set(zmq::sockopt::routing_id, config_.id + "/" + formatEpoch(bootId_));
  // The hub may restart; reconnect quickly so publishes resume within their deadline.
  dealer_.set(zmq::sockopt::reconnect_ivl, 100);
  dealer_.set(zmq::sockopt::reconnect_ivl_max, 2000);
  dealer_.connect(ingress_);

  sub_ = zmq::socket_t(context_, zmq::socket_type::sub);
  if (!serverKey_.empty()) useCurveClient(sub_, serverKey_, config_.curveSecretKey);
  // A SUB silently drops subscriptions beyond its send HWM (seen with 19,000 topics): unlimited.
  sub_.set(zmq::sockopt::sndhwm, 0);
  sub_.set(zmq::sockopt::rcvhwm, kSubRcvHwm);
  sub_.set(zmq::sockopt::linger, 0);
  sub_.set(zmq::sockopt::reconnect_ivl, 100);
  sub_.set(zmq::sockopt::reconnect_ivl_max, 2000);
  sub_.connect(pubEndpoint_);
  sub_.set(zmq::sockopt::subscribe, topicFor(kKickControl));  // kicks reach every frontend
  sub_.set(zmq::sockopt::subscribe, ownTopic_);                // routed inboxes, hub boot syncs

  uv_poll_init(loop_, &dealerPoll_, dealer_.get(zmq::sockopt::fd));
  uv_poll_init(loop_, &subPoll_, sub_.get(zmq::sockopt::fd));
  dealerPoll_.data = subPoll_.data = this;
  uv_poll_start(&dealerPoll_, UV_READABLE, onPoll);
  uv_poll_start(&subPoll_, UV_READABLE, onPoll);
  if (monitor_) {
    uv_poll_init(loop_, &monitorPoll_, monitor_.get(zmq::sockopt::fd));
    monitorPoll_.data = this;
    uv_poll_start(&monitorPoll_, UV_READABLE, onMonitor);
  }
  uv_idle_init(loop_, &idle_);
  idle_.data = this;
  started_ = true;

  authRetry_.link = this;
  authRetry_.fire = [](TimerNode* node) { static_cast<AuthRetry*>(node)->link->reconnect(); };
  helloTimer_.link = this;
  helloTimer_.fire = [](TimerNode* node) { static_cast<HelloTimer*>(node)->link->sendHello(); };
  sendHello();
  scheduleDrain();
}

void HubLink::close() {
  if (!started_ || closed_) return;
  closed_ = true;
  wheel_.cancel(helloTimer_);
  wheel_.cancel(authRetry_);
  uv_close(reinterpret_cast<uv_handle_t*>(&dealerPoll_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&subPoll_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&idle_), nullptr);
  if (monitor_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&monitorPoll_), nullptr);
    zmq_socket_monitor(dealer_.handle(), nullptr, 0);
    monitor_.close();
  }
  // Waiting requests get Cancelled through their owners' close; any left fail now.
  while (!pending_.empty()) pending_.begin()->second->complete(WaitStatus::Cancelled);
  dealer_.close();
  sub_.close();
}

void HubLink::subscribe(std::string_view channel) {
  topic_.assign(channel);
  topic_.push_back('\0');  // terminated, so room:1 never matches room:10
  sub_.set(zmq::sockopt::subscribe, topic_);
  ++subscriptions_;
  scheduleDrain();
}

void HubLink::unsubscribe(std::string_view channel) {
  topic_.assign(channel);
  topic_.push_back('\0');
  sub_.set(zmq::sockopt::unsubscribe, topic_);
  --subscriptions_;
  scheduleDrain();
}

bool HubLink::post(wire::FrontendRequest& request) {
  request.set_req_id(0);
  return send(request);
}

bool HubLink::send(wire::FrontendRequest& request) {
  if (closed_ || !started_) return false;
  std::string bytes = request.SerializeAsString();
  zmq::send_result_t sent;
  try {
    sent = dealer_.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    spdlog::warn("hub request not sent: {}", e.what());
    return false;
  }
  scheduleDrain();  // sending may have consumed the fd's edge
  return sent.has_value();
}

void HubLink::sendHello() {
  wire::FrontendRequest hello;
  hello.mutable_hello()->set_frontend_id(config_.id);
  hello.mutable_hello()->set_boot_id(bootId_);
  hello.set_req_id(nextReqId_++);  // answered with HubInfo (onUnclaimedReply)
  send(hello);
  wheel_.schedule(helloTimer_, uv_now(loop_) + config_.heartbeatMs);
}

void HubLink::onUnclaimedReply(const wire::HubReply& reply) {
  if (reply.has_hub_info()) {
    if (reply.hub_info().max_data_bytes() != hubInfo_.max_data_bytes()) {
      spdlog::info("hub {}: accepts data up to {} bytes, requests up to {}", ingress_,
                   reply.hub_info().max_data_bytes(), reply.hub_info().max_request_bytes());
    }
    hubInfo_ = reply.hub_info();
    return;
  }
  if (reply.has_error() && reply.error().code() == "conflict") {
    // Our hello was refused (another process holds our id), or we hold it and one was refused.
    uint64_t now = uv_now(loop_);
    if (now >= nextConflictLogMs_) {
      spdlog::error("hub {}: {}", ingress_, reply.error().message());
      nextConflictLogMs_ = now + 10'000;
    }
  }
}

void HubLink::scheduleDrain() {
  if (started_ && !closed_) uv_idle_start(&idle_, onIdle);
}

void HubLink::onPoll(uv_poll_t* handle, int status, int /*events*/) {
  auto* self = static_cast<HubLink*>(handle->data);
  if (status < 0) spdlog::warn("hub socket poll: {}", uv_strerror(status));
  self->drain();
}

void HubLink::onMonitor(uv_poll_t* handle, int /*status*/, int /*events*/) {
  static_cast<HubLink*>(handle->data)->drainMonitor();
}

// Monitor events: [uint16 event, uint32 value][endpoint]. A refused key is logged at most every 10 s.
void HubLink::drainMonitor() {
  for (int i = 0; i < kDrainBatch && !closed_; ++i) {
    zmq::message_t head;
    zmq::message_t endpoint;
    try {
      if (!monitor_.recv(head, zmq::recv_flags::dontwait)) return;
      if (head.more() && !monitor_.recv(endpoint, zmq::recv_flags::dontwait)) return;
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      spdlog::warn("hub {}: monitor: {}", ingress_, e.what());
      return;
    }
    if (head.size() < 6) continue;
    uint16_t event = 0;
    uint32_t value = 0;
    std::memcpy(&event, head.data(), 2);
    std::memcpy(&value, static_cast<const char*>(head.data()) + 2, 4);
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
      ++authRefusals_;
      // libzmq gives up on a connection whose handshake was refused: we connect again later, so a
      // key listed afterwards (and the hub's allow-lists reloaded with SIGHUP) is used without a restart.
      if (!authRetry_.scheduled()) wheel_.schedule(authRetry_, uv_now(loop_) + kAuthRetryMs);
      const uint64_t now = uv_now(loop_);
      if (now >= nextAuthLogMs_) {
        spdlog::error("hub {}: refused this frontend's CURVE key {} (ZAP status {}, {} refusals so far): list it in "
                      "the hub's curve_frontend_clients{}",
                      ingress_, curvePublicKey_, value, authRefusals_,
                      config_.curveSecretKey.empty() ? ", after giving this frontend its own key pair (--curve-secret-key-file)" : "");
        nextAuthLogMs_ = now + 10'000;
      }
    } else if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
      noteLinkUp();
    } else if (event == ZMQ_EVENT_DISCONNECTED) {
      noteLinkLost();
    }
  }
}

// One line when an established link drops, one when a handshake succeeds again (not one per retry).
void HubLink::noteLinkLost() {
  if (!linkUp_) return;
  linkUp_ = false;
  linkLostMs_ = uv_now(loop_);
  logEvent(LogEvent::HubLinkLost, "hub link lost", {{"hub", ingress_}});
}

void HubLink::noteLinkUp() {
  if (authRefusals_ > 0) {
    spdlog::info("hub {}: CURVE handshake succeeded after {} refusals", ingress_, authRefusals_);
    authRefusals_ = 0;
    nextAuthLogMs_ = 0;
  }
  if (!linkUp_ && linkLostMs_ != 0) {
    logEvent(LogEvent::HubLinkBack, "hub link back", {{"hub", ingress_}, {"down_ms", uv_now(loop_) - linkLostMs_}});
  }
  linkUp_ = true;
}

void HubLink::reconnect() {
  if (closed_) return;
  spdlog::info("hub {}: connecting again after the refused CURVE handshake", ingress_);
  for (auto [socket, endpoint] : {std::pair{&dealer_, &ingress_}, std::pair{&sub_, &pubEndpoint_}}) {
    try {
      socket->disconnect(*endpoint);
    } catch (const zmq::error_t&) {
      // the refused connection is already gone
    }
    socket->connect(*endpoint);
  }
  scheduleDrain();
}

void HubLink::onIdle(uv_idle_t* handle) { static_cast<HubLink*>(handle->data)->drain(); }

void HubLink::drain() {
  if (closed_) return;
  if (monitor_) drainMonitor();  // also after start: ZMQ_FD signals only once a read found nothing
  bool more = drainDealer();
  if (closed_) return;
  more = drainSub() || more;
  if (closed_) return;
  if (more) {
    uv_idle_start(&idle_, onIdle);
  } else {
    uv_idle_stop(&idle_);
  }
}

bool HubLink::drainDealer() {
  zmq::message_t message;
  for (int i = 0; i < kDrainBatch; ++i) {
    if (closed_) return false;
    if ((dealer_.get(zmq::sockopt::events) & ZMQ_POLLIN) == 0) return false;
    if (!dealer_.recv(message, zmq::recv_flags::dontwait)) return false;
    wire::HubReply reply;
    if (!reply.ParseFromArray(message.data(), static_cast<int>(message.size()))) {
      spdlog::warn("hub sent an unparsable reply ({} bytes)", message.size());
      continue;
    }
    ++replies_;
    lastReplyMs_ = uv_now(loop_);
    auto it = pending_.find(reply.req_id());
    if (it == pending_.end()) {  // a hello's answer, a notice, or a call that timed out or was cancelled
      onUnclaimedReply(reply);
      continue;
    }
    HubCall* call = it->second;
    call->reply_ = std::move(reply);
    call->complete(WaitStatus::Done);
  }
  return true;
}

bool HubLink::drainSub() {
  zmq::message_t topic;
  zmq::message_t payload;
  for (int i = 0; i < kDrainBatch; ++i) {
    if (closed_) return false;
    if ((sub_.get(zmq::sockopt::events) & ZMQ_POLLIN) == 0) return false;
    if (!sub_.recv(topic, zmq::recv_flags::dontwait)) return false;
    if (!topic.more()) continue;  // malformed: a topic without a payload
    if (!sub_.recv(payload, zmq::recv_flags::dontwait)) return false;
    while (payload.more()) {  // extra frames are not ours; skip them
      if (!sub_.recv(payload, zmq::recv_flags::dontwait)) return false;
    }
    if (topic.to_string_view() == ownTopic_) {
      if (delivery_.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
        ++deliveries_;
        if (delivery_.sync() && delivery_.channel().empty()) {
          onHubBoot_(delivery_.epoch());
        } else {
          onDelivery_(delivery_);
        }
      }
      continue;
    }
    if (isControlTopic(topic.to_string_view())) {
      if (topic.to_string_view() == topicFor(kKickControl) &&
          kick_.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
        onKick_(kick_);
      }
      continue;
    }
    if (!delivery_.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
      spdlog::warn("hub published an unparsable message on '{}'", topic.to_string_view());
      continue;
    }
    ++deliveries_;
    onDelivery_(delivery_);
  }
  return true;
}

}  // namespace webim
