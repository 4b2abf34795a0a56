// The outbox of dm notices for inboxes on other shards (docs/architecture.md "Conversations";
// the state machine: notice_outbox.h). One DEALER per peer hub, on its hub_ingress (the shard
// table gives the endpoints and CURVE keys); polled in the hub's loop, served between batches.
#include <spdlog/spdlog.h>

#include "broadcast/hub.h"
#include "common/failpoint.h"
#include "common/program/curve.h"
#include "common/topics.h"

namespace webim::hub {

namespace {

constexpr int kPeerLingerMs = 0;  // what a peer did not take is sent again after a restart anyway
constexpr size_t kRepliesPerStep = 1024;
constexpr auto kUnreachableLogInterval = std::chrono::seconds(10);
constexpr uint64_t kUnreachableAfterFailures = 3;

}  // namespace

// Connects to every other shard's hub_ingress and loads the outbox left by an earlier run.
void Hub::startOutbox() {
  if (!config_.slotMap || config_.slotMap->shards().size() < 2) return;
  const auto& shards = config_.slotMap->shards();
  peers_.resize(shards.size());
  for (size_t i = 0; i < shards.size(); ++i) {
    if (i == config_.shardIndex) continue;
    auto socket = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::dealer);
    socket->set(zmq::sockopt::linger, kPeerLingerMs);
    socket->set(zmq::sockopt::immediate, 1);  // no connection: a send fails and is retried later
    if (!shards[i].curveServerKey.empty()) useCurveClient(*socket, shards[i].curveServerKey, config_.curveSecretKey);
    socket->connect(shards[i].hubIngress);
    peers_[i] = std::move(socket);
  }
  outbox_ = std::make_unique<NoticeOutbox>(shards.size(), NoticeOutbox::Limits{});
  reloadOutbox();
}

void Hub::addPeerPollItems(std::vector<zmq::pollitem_t>& items) {
  for (const auto& peer : peers_) {
    if (peer) items.push_back({peer->handle(), 0, ZMQ_POLLIN, 0});
  }
}

// How long the loop may wait before the outbox has something to send (retries, timeouts).
std::chrono::milliseconds Hub::outboxWait(std::chrono::milliseconds wait) const {
  if (!outbox_ || outbox_->size() == 0) return wait;
  const uint64_t due = outbox_->nextDueMs();
  const uint64_t now = steadyMs();
  if (due <= now) return std::chrono::milliseconds(0);
  return std::min<std::chrono::milliseconds>(wait, std::chrono::milliseconds(due - now));
}

// A dm notice for an inbox of another shard: an outbox record in the dm message's batch.
void Hub::stageRemoteNotice(const std::string& user, const std::string& dm, uint64_t seq, const std::string& from,
                            int64_t tsMs) {
  if (!outbox_) return;  // no peers (no shard table): cannot happen, every inbox is ours
  sequencer_.stage(OutboxEntry{user, dm, seq, from, tsMs});
  ++stats_.outboxWritten;
}

// The batch holding them is durable: they may be sent.
void Hub::outboxCommitted(const std::vector<OutboxEntry>& entries) {
  if (!outbox_) return;
  for (const OutboxEntry& e : entries) {
    (void)outbox_->add(config_.slotMap->shardOf(std::string(kInboxPrefix) + e.user), e);  // full: read again later
  }
}

// Entries left in the store: at start, and after more than the outbox holds in memory came while
// it was full (once it is empty and nothing is in flight, so no entry of an unsynced batch is read).
void Hub::reloadOutbox() {
  if (!outbox_ || outbox_->size() != 0 || !inFlight_.empty()) return;
  outbox_->clearOverflow();
  std::vector<OutboxEntry> entries;
  try {
    entries = store_.loadOutbox(std::nullopt, NoticeOutbox::Limits{}.maxInMemory + 1);
  } catch (const HistoryStoreError& e) {
    spdlog::warn("reading the dm notice outbox: {} (tried again later)", e.what());
    outboxReloadDue_ = true;
    return;
  }
  outboxReloadDue_ = false;
  for (const OutboxEntry& e : entries) {
    if (!decoder_.scope().owns(e.dm)) continue;  // another hub's (a PostgreSQL schema shared by hubs)
    const size_t peer = config_.slotMap->shardOf(std::string(kInboxPrefix) + e.user);
    if (peer == config_.shardIndex) {  // the shard table moved the inbox here: not sent
      spdlog::warn("dm notice of {} seq {} for {}: the inbox is on this shard now; dropped", e.dm, e.seq, e.user);
      sequencer_.stageDelivered(e);
      continue;
    }
    (void)outbox_->add(peer, e);
  }
  if (!entries.empty()) spdlog::info("dm notice outbox: {} entries to send", outbox_->size());
}

// Between batches: the peers' answers (a delivered entry's record is deleted with the next batch),
// then what is due.
void Hub::outboxStep() {
  if (!outbox_) return;
  const uint64_t now = steadyMs();
  for (auto& peer : peers_) {
    if (!peer) continue;
    for (size_t n = 0; n < kRepliesPerStep; ++n) {
      zmq::message_t message;
      if (!peer->recv(message, zmq::recv_flags::dontwait)) break;
      while (message.more() && peer->recv(message, zmq::recv_flags::dontwait)) {
      }
      wire::HubReply reply;
      if (!reply.ParseFromArray(message.data(), static_cast<int>(message.size()))) continue;
      if (reply.has_error()) {
        outbox_->refused(reply.req_id(), now);
      } else if (std::optional<OutboxEntry> done = outbox_->delivered(reply.req_id())) {
        // hub.keep_outbox (tests): as if the hub died before the deletion was committed.
        if (!failpoint("hub.keep_outbox")) sequencer_.stageDelivered(std::move(*done));
        ++stats_.outboxDelivered;
      }
    }
  }
  if ((outbox_->overflowed() || outboxReloadDue_) && outbox_->size() == 0) reloadOutbox();
  if (failpoint("hub.hold_outbox")) return;  // tests: acked dm messages whose notices are not sent yet
  for (const NoticeOutbox::Send& send : outbox_->take(now)) sendNotice(send, now);
  logUnreachablePeers();
}

void Hub::sendNotice(const NoticeOutbox::Send& send, uint64_t nowMs) {
  wire::FrontendRequest request;
  request.set_req_id(send.reqId);
  wire::DmNotice* notice = request.mutable_dm_notice();
  notice->set_user(send.entry->user);
  notice->set_channel(send.entry->dm);
  notice->set_seq(send.entry->seq);
  notice->set_from(send.entry->from);
  notice->set_ts_ms(send.entry->tsMs);
  const std::string body = request.SerializeAsString();
  bool sent = false;
  try {
    sent = peers_[send.peer]->send(zmq::buffer(body), zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t& e) {
    spdlog::debug("sending a dm notice to {}: {}", config_.slotMap->shards()[send.peer].name, e.what());
  }
  if (!sent) outbox_->refused(send.reqId, nowMs);  // no connection (ZMQ_IMMEDIATE) or a full pipe
}

void Hub::logUnreachablePeers() {
  const auto now = std::chrono::steady_clock::now();
  if (now < nextOutboxLog_) return;
  for (size_t i = 0; i < outbox_->peers(); ++i) {
    const NoticeOutbox::PeerState& p = outbox_->peer(i);
    if (p.waiting == 0 || p.failures < kUnreachableAfterFailures) continue;
    const Shard& shard = config_.slotMap->shards()[i];
    spdlog::warn("peer hub {} ({}) unreachable: {} dm notices wait in the outbox ({} failed sends in a row); they "
                 "are kept and sent when it answers",
                 shard.name, shard.hubIngress, p.waiting, p.failures);
    nextOutboxLog_ = now + kUnreachableLogInterval;
  }
}

// A dm notice a peer hub sent was stored: the dm moves up in the user's conversation index.
void Hub::stageNotice(ConversationTouch touch) {
  sequencer_.stage(std::move(touch));
  ++stats_.dmNotices;
}

}  // namespace webim::hub
