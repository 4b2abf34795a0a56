// The hub's stream of one channel as this frontend's subscribers see it: in seq order, each
// message once, never a gap within an epoch (docs/architecture.md, "Joining a stream without a gap").
//
// The SUB socket can lose messages (HWM drops, a slow joiner, a hub restart between commit and
// publish, the last message of a burst). A hole shows as a seq jump or as a sync ahead of what we
// delivered; then later messages are held while the missing range is read from the hub's history
// (every published message is durable first, so history has it unless retention or a reset lost
// it). A range history cannot give becomes a `resync` to the clients, who reload from hist.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "frontend/channel_index.h"
#include "frontend/connection.h"
#include "frontend/delivery.h"
#include "frontend/frontend.h"

namespace webim {

namespace {
// Held messages are only a shortcut: beyond this many, history serves them too.
constexpr size_t kMaxHeld = 1024;
}  // namespace

void Frontend::onDelivery(const wire::Delivery& delivery) {
  Channel* channel = channels_.find(delivery.channel());
  if (channel == nullptr) return;  // the last local subscriber left meanwhile
  if (delivery.sync()) {
    onSync(channel, delivery);
    return;
  }
  // Before the sync, deliveries are at or before the point the joining clients start from.
  if (!channel->live) return;
  if (delivery.epoch() != channel->epoch) {
    if (channel->epoch == 0 && channel->lastSeq == 0) {
      channel->epoch = delivery.epoch();  // joined before the channel's first message: nothing lost
    } else {
      // The channel's history was lost or reset at the hub: clients reload, then go on from here.
      resyncChannel(channel, delivery.epoch(), delivery.seq() - 1);
    }
  }
  if (channel->filling()) {
    holdForFill(channel, delivery);
    return;
  }
  if (delivery.seq() <= channel->lastSeq) return;  // already delivered
  if (delivery.seq() > channel->lastSeq + 1) {
    metrics_.gaps++;
    holdForFill(channel, delivery);
    startFill(channel, delivery.seq() - 1);
    return;
  }
  deliverToChannel(channel, delivery);
}

void Frontend::onSync(Channel* channel, const wire::Delivery& sync) {
  if (!channel->live) {
    goLive(channel, sync.epoch(), sync.seq());
    return;
  }
  if (sync.epoch() != channel->epoch) {
    resyncChannel(channel, sync.epoch(), sync.seq());
    return;
  }
  if (sync.seq() <= channel->lastSeq) return;
  // Messages up to sync.seq() exist that we never saw (e.g. the last one of a burst was dropped).
  if (channel->filling()) {
    channel->catchUp().fillTarget = std::max(channel->catchUp().fillTarget, sync.seq());
    return;
  }
  metrics_.gaps++;
  startFill(channel, sync.seq());
}

void Frontend::goLive(Channel* channel, uint64_t epoch, uint64_t lastSeq) {
  channel->live = true;
  channel->epoch = epoch;
  channel->lastSeq = lastSeq;
  // A resumed joiner may leave the channel (`sub` and `unsub` in one read): pinned while we loop.
  channel->pendingJoins++;
  while (channel->hasJoiners()) channel->catchUp().joiners.front()->joined();
  channel->trimCatchUp();
  channel->pendingJoins--;
  releaseChannel(channel);  // erased here if every joiner left
}

void Frontend::deliverToChannel(Channel* channel, const wire::Delivery& delivery) {
  channel->epoch = delivery.epoch();
  channel->lastSeq = delivery.seq();
  if (channel->subscribers.empty()) return;
  // Serialize once per frontend; every subscriber shares the same frame bytes.
  deliveryScratch_.clear();
  JsonWriter writer(deliveryScratch_);
  writeMessage(writer, delivery);
  DeliveryFrames frames(delivery.channel(), delivery.epoch(), delivery.seq(), deliveryScratch_);
  for (Connection* subscriber : channel->subscribers) subscriber->deliver(frames);
  metrics_.deliveries += channel->subscribers.size();
}

void Frontend::resyncChannel(Channel* channel, uint64_t epoch, uint64_t seq) {
  metrics_.resyncs++;
  spdlog::warn("channel {}: cannot deliver without a gap (epoch {} seq {}): resync", channel->name,
               formatEpoch(epoch), seq);
  channel->epoch = epoch;
  channel->lastSeq = seq;
  if (channel->catchUpState) {
    auto& held = channel->catchUpState->held;
    held.erase(std::remove_if(held.begin(), held.end(), [&](const wire::Delivery& d) { return d.epoch() != epoch; }),
               held.end());
    channel->catchUpState->fillTarget = std::min(channel->catchUpState->fillTarget, seq);
  }
  std::string json;
  JsonWriter(json)
      .beginObject()
      .key("op").string("resync")
      .key("ch").string(channel->name)
      .key("epoch").string(formatEpoch(epoch))
      .key("seq").uinteger(seq)
      .endObject();
  DeliveryFrames frames(channel->name, epoch, seq, json);
  for (Connection* subscriber : channel->subscribers) subscriber->deliver(frames);
}

void Frontend::holdForFill(Channel* channel, const wire::Delivery& delivery) {
  if (delivery.seq() <= channel->lastSeq) return;
  ChannelCatchUp& catchUp = channel->catchUp();
  if (catchUp.held.size() >= kMaxHeld) {
    // History has every published message: fetch instead of holding more.
    catchUp.fillTarget = std::max(catchUp.fillTarget, delivery.seq());
    return;
  }
  catchUp.held.push_back(delivery);
}

void Frontend::startFill(Channel* channel, uint64_t target) {
  ChannelCatchUp& catchUp = channel->catchUp();
  catchUp.fillTarget = std::max(catchUp.fillTarget, target);
  if (catchUp.filling) return;
  catchUp.filling = true;
  fillGap(channel);
}

// Reads (lastSeq, fillTarget] from history and delivers it, then the held messages; repeats while
// the held messages leave another hole. One fill per channel at a time; the channel stays in the
// index while it runs (ChannelIndex::remove checks `filling`).
Task Frontend::fillGap(Channel* channel) {
  while (true) {
    while (channel->lastSeq < channel->catchUp().fillTarget) {
      wire::FrontendRequest request;
      wire::History* body = request.mutable_history();
      body->set_channel(channel->name);
      body->set_after(channel->lastSeq);
      body->set_limit(kMaxHistLimit);
      HubCall call(hubFor(channel->name), fills_, request, nowMs() + config_.hubTimeoutMs);
      HubResult result = co_await call;
      if (result.status == WaitStatus::Cancelled) co_return;  // shutting down: touch nothing
      if (result.status != WaitStatus::Done || result.reply.has_error()) {
        // The hub cannot tell us now; rather than hold clients back, say what is missing.
        resyncChannel(channel, channel->epoch, channel->catchUp().fillTarget);
        break;
      }
      const wire::HistoryPage& page = result.reply.history();
      if (page.epoch() != channel->epoch) {
        resyncChannel(channel, page.epoch(), std::max(channel->catchUp().fillTarget, page.last_seq()));
        break;
      }
      uint64_t before = channel->lastSeq;
      for (const wire::Delivery& m : page.msgs()) {
        if (m.seq() <= channel->lastSeq) continue;
        if (m.seq() != channel->lastSeq + 1) resyncChannel(channel, channel->epoch, m.seq() - 1);  // lost range
        deliverToChannel(channel, m);
        metrics_.gapMessagesFilled++;
      }
      if (channel->lastSeq == before || (!page.more() && channel->lastSeq < channel->catchUp().fillTarget)) {
        // History ends before the target: retention or a reset lost those messages.
        resyncChannel(channel, channel->epoch, channel->catchUp().fillTarget);
        break;
      }
    }
    // Then the messages that arrived meanwhile, in order; another hole among them starts over.
    std::sort(channel->catchUp().held.begin(), channel->catchUp().held.end(),
              [](const wire::Delivery& a, const wire::Delivery& b) { return a.seq() < b.seq(); });
    size_t next = 0;
    bool hole = false;
    for (; next < channel->catchUp().held.size(); ++next) {
      const wire::Delivery& m = channel->catchUp().held[next];
      if (m.seq() <= channel->lastSeq) continue;
      if (m.seq() != channel->lastSeq + 1) {
        channel->catchUp().fillTarget = m.seq() - 1;
        hole = true;
        break;
      }
      deliverToChannel(channel, m);
    }
    channel->catchUp().held.erase(channel->catchUp().held.begin(), channel->catchUp().held.begin() + static_cast<std::ptrdiff_t>(next));
    if (!hole && channel->lastSeq >= channel->catchUp().fillTarget) break;
  }
  channel->catchUp().held.clear();
  channel->catchUp().filling = false;
  channel->trimCatchUp();
  releaseChannel(channel);  // erased here if everybody left during the fill
}

}  // namespace webim
