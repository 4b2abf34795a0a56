#include "frontend/hub_link.h"

#include <spdlog/spdlog.h>

#include "common/json_codec.h"
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

HubLink::HubLink(uv_loop_t* loop, TimerWheel& wheel, const FrontendConfig& config, uint64_t bootId,
                 std::string ingress, std::string pub, std::string serverKey, DeliveryHandler onDelivery,
                 KickHandler onKick, BootHandler onHubBoot)
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
      ownTopic_(topicFor(frontendControl(config.id))) {}

HubLink::~HubLink() { close(); }

namespace {
// CURVE client side: an ephemeral key pair per process (the hub authenticates itself to us with
// its public key; it does not need to know ours).
void useCurve(zmq::socket_t& socket, const std::string& serverKey) {
  static const std::pair<std::string, std::string> keys = [] {
    char publicKey[41];
    char secretKey[41];
    if (zmq_curve_keypair(publicKey, secretKey) != 0) throw zmq::error_t();
    return std::pair<std::string, std::string>(publicKey, secretKey);
  }();
  socket.set(zmq::sockopt::curve_serverkey, serverKey);
  socket.set(zmq::sockopt::curve_publickey, keys.first);
  socket.set(zmq::sockopt::curve_secretkey, keys.second);
}
}  // namespace

void HubLink::start() {
  dealer_ = zmq::socket_t(context_, zmq::socket_type::dealer);
  if (!serverKey_.empty()) useCurve(dealer_, serverKey_);
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
  if (!serverKey_.empty()) useCurve(sub_, serverKey_);
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
  uv_idle_init(loop_, &idle_);
  idle_.data = this;
  started_ = true;

  helloTimer_.link = this;
  helloTimer_.fire = [](TimerNode* node) { static_cast<HelloTimer*>(node)->link->sendHello(); };
  sendHello();
  scheduleDrain();
}

void HubLink::close() {
  if (!started_ || closed_) return;
  closed_ = true;
  wheel_.cancel(helloTimer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&dealerPoll_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&subPoll_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&idle_), nullptr);
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

void HubLink::onIdle(uv_idle_t* handle) { static_cast<HubLink*>(handle->data)->drain(); }

void HubLink::drain() {
  if (closed_) return;
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
