// Channel and inbox routing: the I/O side of the channels' streams (ChannelStream is the pure
// state machine; this subscribes topics, reads history for fills and fans messages out), and the
// routed inboxes' attach and detach (docs/architecture.md, "Routed inboxes").
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/topics.h"
#include "frontend/channel_stream.h"
#include "frontend/connection.h"
#include "frontend/delivery.h"
#include "frontend/frontend.h"
#include "frontend/read_receipt.h"
#include "frontend/read_retry.h"

namespace webim {

void Frontend::channelOpened(std::string_view name) {
  if (isInboxChannel(name)) {
    inboxChanged(name);
  } else {
    hubFor(name).subscribe(name);
  }
}

void Frontend::channelClosed(std::string_view name) {
  if (isInboxChannel(name)) {
    inboxChanged(name);
  } else {
    hubFor(name).unsubscribe(name);
  }
}

void Frontend::fetchFill(Channel& channel, uint64_t after) { readFillPage(&channel, after); }

// A filling channel stays in the index until the fill ends, so `channel` outlives the call. A read
// the hub answers `unavailable` (or not in time) is tried again with backoff (ReadRetry) before the
// fill gives up with a resync: the store's reads fail for a while when it recovers.
Task Frontend::readFillPage(Channel* channel, uint64_t after) {
  ReadRetry retry(config_.hubTimeoutMs, reinterpret_cast<uintptr_t>(channel) ^ nowMs());
  for (;;) {
    wire::FrontendRequest request;
    wire::History* body = request.mutable_history();
    body->set_channel(channel->name);
    body->set_after(after);
    body->set_limit(kMaxHistLimit);
    HubCall call(hubFor(channel->name), fills_, request, nowMs() + config_.hubTimeoutMs);
    HubResult result = co_await call;
    if (result.status == WaitStatus::Cancelled) co_return;  // shutting down: touch nothing
    if (result.status == WaitStatus::Done && !result.reply.has_error()) {
      stream_.onFillPage(channel, result.reply.history());
      co_return;
    }
    std::optional<uint64_t> pause = retryPause(retry, result);
    if (!pause) break;
    Sleep wait(fills_, wheel_, nowMs() + *pause);
    WaitStatus slept = co_await wait;
    if (slept == WaitStatus::Cancelled) co_return;
  }
  stream_.onFillFailed(channel);
}

std::optional<uint64_t> Frontend::retryPause(ReadRetry& retry, const HubResult& result) {
  if (!ReadRetry::retryable(result.status == WaitStatus::Done, result.reply.error().code())) return std::nullopt;
  std::optional<uint64_t> pause = retry.next(nowMs());
  if (pause) metrics_.catchUpReadRetries++;
  return pause;
}

void Frontend::deliver(Channel& channel, const wire::Delivery& delivery) {
  metrics_.deliveries += fanOut(channel, delivery);
}

void Frontend::deliverSignal(Channel& channel, const wire::Delivery& delivery) {
  metrics_.signalDeliveries += fanOut(channel, delivery);
}

// Serialize once per frontend; every subscriber shares the same frame bytes. A signal has no epoch
// or seq (0): its event-stream frame carries no id. Returns the frames queued.
size_t Frontend::fanOut(Channel& channel, const wire::Delivery& delivery) {
  if (deliveryStartNs_ == 0) deliveryStartNs_ = uv_hrtime();
  deliveryScratch_.clear();
  JsonWriter writer(deliveryScratch_);
  if (delivery.has_read()) {
    writeReadReceipt(writer, delivery.read());  // a receipt is carried like a signal
  } else if (delivery.signal() && (delivery.presence_join_size() > 0 || delivery.presence_leave_size() > 0)) {
    writePresenceEvent(writer, delivery);
  } else if (delivery.signal()) {
    writeSignal(writer, delivery);
  } else {
    writeMessage(writer, delivery);
  }
  DeliveryFrames frames(delivery.channel(), delivery.epoch(), delivery.seq(), deliveryScratch_);
  for (Connection* subscriber : channel.subscribers) subscriber->deliver(frames);
  return channel.subscribers.size();
}

void Frontend::resync(Channel& channel, uint64_t epoch, uint64_t seq) {
  spdlog::warn("channel {}: cannot deliver without a gap (epoch {} seq {}): resync", channel.name,
               formatEpoch(epoch), seq);
  std::string json;
  JsonWriter(json)
      .beginObject()
      .key("op").string("resync")
      .key("ch").string(channel.name)
      .key("epoch").string(formatEpoch(epoch))
      .key("seq").uinteger(seq)
      .endObject();
  DeliveryFrames frames(channel.name, epoch, seq, json);
  for (Connection* subscriber : channel.subscribers) subscriber->deliver(frames);
}

void Frontend::inboxChanged(std::string_view inboxChannel) {
  inboxes_.changed(config_.slotMap->shardOf(inboxChannel), std::string(inboxChannel.substr(kInboxPrefix.size())));
  uv_idle_start(&flushIdle_, [](uv_idle_t*) {});  // sent at the end of this iteration
}

void Frontend::onHubBoot(size_t shard, uint64_t bootId) {
  if (bootId == hubBootIds_[shard]) return;
  if (hubBootIds_[shard] != 0) {
    spdlog::info("hub {} restarted: attaching its inboxes again", config_.slotMap->shards()[shard].name);
  }
  hubBootIds_[shard] = bootId;
  loadRevocations(shard);  // at start, and again after a restart of that hub
  presence_.resend(shard);  // channel presence: its users and counts again (channel_presence.cpp)
  stream_.index().forEach([&](Channel* channel) {  // inboxChanged only notes the change: the index stays as is
    if (isInboxChannel(channel->name) && config_.slotMap->shardOf(channel->name) == shard) inboxChanged(channel->name);
  });
  reattachPresence(shard);
  rewatch(shard);
}

void Frontend::flushInboxChanges() {
  const uint64_t now = nowMs();
  const bool syncDue = std::find(presenceSyncDue_.begin(), presenceSyncDue_.end(), 1) != presenceSyncDue_.end();
  if (!inboxes_.due(now) && !syncDue) return;
  auto held = [&](size_t, const std::string& user) { return holdsUser(user); };
  std::vector<InboxAttacher::Chunk> chunks = inboxes_.take(now, held);
  if (syncDue) markPresenceSynced(chunks);
  for (InboxAttacher::Chunk& chunk : chunks) {
    if (chunk.attach) {
      attachInboxes(chunk.shard, std::move(chunk.users), chunk.synced);
      continue;
    }
    wire::FrontendRequest request;
    wire::Detach* detach = request.mutable_detach();
    detach->set_frontend_id(config_.id);
    detach->set_boot_id(bootId_);
    for (std::string& user : chunk.users) detach->add_users(std::move(user));
    hubs_[chunk.shard]->post(request);
  }
  scheduleInboxRetry();
}

void Frontend::scheduleInboxRetry() {
  uint64_t next = inboxes_.nextRetryMs();
  if (next == UINT64_MAX || stopping_) return;
  if (!inboxRetry_.scheduled() || inboxRetry_.deadlineMs > next) wheel_.schedule(inboxRetry_, next);
}

// One chunk of inboxes. Acknowledged: each inbox's joiners go live at the hub's position (or a fill
// starts if messages came meanwhile). Not acknowledged: InboxAttacher tries again after a backoff,
// for as long as the inboxes are held here; their joiners wait (up to hub_timeout_ms).
Task Frontend::attachInboxes(size_t shard, std::vector<std::string> users, bool synced) {
  wire::FrontendRequest request;
  wire::Attach* attach = request.mutable_attach();
  attach->set_frontend_id(config_.id);
  attach->set_boot_id(bootId_);
  attach->set_synced(synced);
  for (const std::string& user : users) attach->add_users(user);
  HubCall call(*hubs_[shard], fills_, request, nowMs() + config_.hubTimeoutMs);
  HubResult result = co_await call;
  if (result.status == WaitStatus::Cancelled) co_return;
  if (result.status != WaitStatus::Done || result.reply.has_error()) {
    if (result.status == WaitStatus::TimedOut) metrics_.hubTimeouts++;
    metrics_.inboxAttachRetries++;
    const uint64_t now = nowMs();
    if (now >= nextAttachWarnMs_) {  // one line per second at most, however many chunks fail
      spdlog::warn("attaching {} inboxes to hub {} failed ({}): retrying", users.size(), hubs_[shard]->ingress(),
                   result.reply.has_error() ? result.reply.error().code() + ": " + result.reply.error().message()
                                            : std::string(result.status == WaitStatus::TimedOut ? "no answer in time"
                                                                                                : "not sent"));
      nextAttachWarnMs_ = now + 1000;
    }
    inboxes_.failed(shard, std::move(users), now);
    scheduleInboxRetry();
    co_return;
  }
  inboxes_.succeeded(shard);
  metrics_.inboxAttaches += users.size();
  for (const wire::InboxState& state : result.reply.attached().inboxes()) {
    Channel* channel = stream_.find(std::string(kInboxPrefix) + state.user());
    if (channel != nullptr) stream_.onAttached(channel, state.epoch(), state.last_seq());
  }
}

}  // namespace webim
