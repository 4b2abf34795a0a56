// The SUB socket can lose messages (HWM drops, a slow joiner, a hub restart between commit and
// publish, the last message of a burst). A hole shows as a seq jump or as a sync ahead of what we
// delivered; then later messages are held while the missing range is read from the hub's history
// (every published message is durable first, so history has it unless retention or a reset lost
// it). A range history cannot give becomes a `resync` to the clients, who reload from hist
// (docs/architecture.md, "Gap filling").
#include "frontend/channel_stream.h"

#include <algorithm>
#include <cassert>

namespace webim {

ChannelPin& ChannelPin::operator=(ChannelPin&& other) noexcept {
  if (this != &other) {
    reset();
    stream_ = other.stream_;
    channel_ = other.channel_;
    other.channel_ = nullptr;
  }
  return *this;
}

void ChannelPin::reset() {
  Channel* channel = channel_;
  if (channel == nullptr) return;
  channel_ = nullptr;
  assert(channel->pins > 0);
  channel->pins--;
  stream_->leave(channel, nullptr);
}

JoinWait::JoinWait(Channel& channel, PendingOp*& ownerList, TimerWheel& wheel, uint64_t deadlineMs)
    : channel_(&channel) {
  channel.catchUp().joiners.push_back(this);
  linkToOwner(ownerList);
  armDeadline(wheel, deadlineMs);
}

void JoinWait::detach() noexcept {
  auto& joiners = channel_->catchUp().joiners;
  joiners.erase(std::remove(joiners.begin(), joiners.end(), this), joiners.end());
  channel_->trimCatchUp();
}

ChannelPin ChannelStream::join(std::string_view name) {
  auto [channel, created] = index_.acquire(name);  // counts the pin
  ChannelPin pin(*this, channel);
  if (created) port_.channelOpened(name);
  return pin;
}

ChannelPin ChannelStream::pin(Channel* channel) {
  channel->pins++;
  return ChannelPin(*this, channel);
}

void ChannelStream::leave(Channel* channel, Connection* subscriber) {
  if (!channel->subscribers.empty() && subscriber == nullptr) return;  // cheap and common: still held
  if (subscriber != nullptr && channel->subscribers.erase(subscriber)) port_.subscriberLeft(*channel, *subscriber);
  std::string name = channel->name;
  if (index_.remove(channel, subscriber)) port_.channelClosed(name);
}

void ChannelStream::onDelivery(const wire::Delivery& delivery) {
  Channel* channel = index_.find(delivery.channel());
  if (channel == nullptr) return;  // the last local subscriber left meanwhile
  if (delivery.signal()) {
    // Unordered and unstored: never held behind a fill, never a gap, no position.
    if (channel->live) port_.deliverSignal(*channel, delivery);
    return;
  }
  if (delivery.sync()) {
    onSync(channel, delivery.epoch(), delivery.seq());
    return;
  }
  // Before the sync, deliveries are at or before the point the joining clients start from.
  if (!channel->live) return;
  if (delivery.epoch() != channel->epoch) {
    if (channel->epoch == 0 && channel->lastSeq == 0) {
      channel->epoch = delivery.epoch();  // joined before the channel's first message: nothing lost
    } else {
      // The channel's history was lost or reset at the hub: clients reload, then go on from here.
      resync(channel, delivery.epoch(), delivery.seq() - 1);
    }
  }
  if (channel->filling()) {
    hold(channel, delivery);
    return;
  }
  if (delivery.seq() <= channel->lastSeq) {
    metrics_.duplicatesDropped++;  // already delivered
    return;
  }
  if (delivery.seq() > channel->lastSeq + 1) {
    metrics_.gaps++;
    hold(channel, delivery);
    startFill(channel, delivery.seq() - 1);
    return;
  }
  deliver(channel, delivery);
}

void ChannelStream::onSync(Channel* channel, uint64_t epoch, uint64_t seq) {
  if (!channel->live) {
    goLive(channel, epoch, seq);
    return;
  }
  if (epoch != channel->epoch) {
    resync(channel, epoch, seq);
    return;
  }
  if (seq <= channel->lastSeq) return;
  // Messages up to `seq` exist that we never saw (e.g. the last one of a burst was dropped).
  if (channel->filling()) {
    channel->catchUp().fillTarget = std::max(channel->catchUp().fillTarget, seq);
    return;
  }
  metrics_.gaps++;
  startFill(channel, seq);
}

void ChannelStream::onAttached(Channel* channel, uint64_t epoch, uint64_t lastSeq) {
  if (!channel->live) {
    goLive(channel, epoch, lastSeq);
  } else if (epoch != channel->epoch) {
    resync(channel, epoch, lastSeq);
  } else if (lastSeq > channel->lastSeq) {
    metrics_.gaps++;
    startFill(channel, lastSeq);  // published while we were not attached
  }
}

void ChannelStream::onPositionAsked(Channel* channel, uint64_t epoch, uint64_t lastSeq) {
  // Anything published before the subscription reached the hub but after this position shows up
  // as a hole later (seq jump or periodic sync) and is filled from history.
  if (!channel->live) {
    goLive(channel, epoch, lastSeq);
  } else if (epoch == channel->epoch) {
    onSync(channel, epoch, lastSeq);  // live already: a position past ours is a lost tail to fill
  }
}

void ChannelStream::goLive(Channel* channel, uint64_t epoch, uint64_t lastSeq) {
  channel->live = true;
  channel->epoch = epoch;
  channel->lastSeq = lastSeq;
  // A resumed joiner may leave the channel (`sub` and `unsub` in one read): pinned while we loop,
  // and removed when the pin drops if every joiner left.
  ChannelPin held = pin(channel);
  while (channel->hasJoiners()) channel->catchUp().joiners.front()->joined();
  channel->trimCatchUp();
}

void ChannelStream::deliver(Channel* channel, const wire::Delivery& delivery) {
  channel->epoch = delivery.epoch();
  channel->lastSeq = delivery.seq();
  if (!channel->subscribers.empty()) port_.deliver(*channel, delivery);
}

void ChannelStream::resync(Channel* channel, uint64_t epoch, uint64_t seq) {
  metrics_.resyncs++;
  channel->epoch = epoch;
  channel->lastSeq = seq;
  if (channel->catchUpState) {
    auto& held = channel->catchUpState->held;
    std::erase_if(held, [&](const wire::Delivery& d) { return d.epoch() != epoch; });
    channel->catchUpState->fillTarget = std::min(channel->catchUpState->fillTarget, seq);
  }
  port_.resync(*channel, epoch, seq);
}

void ChannelStream::hold(Channel* channel, const wire::Delivery& delivery) {
  if (delivery.seq() <= channel->lastSeq) return;
  ChannelCatchUp& catchUp = channel->catchUp();
  if (catchUp.held.size() >= kMaxHeld) {
    // History has every published message: fetch instead of holding more.
    catchUp.fillTarget = std::max(catchUp.fillTarget, delivery.seq());
    return;
  }
  catchUp.held.push_back(delivery);
}

// One fill per channel at a time; the channel stays in the index while it runs
// (ChannelIndex::remove checks `filling`).
void ChannelStream::startFill(Channel* channel, uint64_t target) {
  ChannelCatchUp& catchUp = channel->catchUp();
  catchUp.fillTarget = std::max(catchUp.fillTarget, target);
  if (catchUp.filling) return;
  catchUp.filling = true;
  metrics_.fills++;
  continueFill(channel);
}

// Reads (lastSeq, fillTarget] from history, page by page (the answers come back through onFillPage
// and onFillFailed), then delivers the held messages; another hole among them starts over.
void ChannelStream::continueFill(Channel* channel) {
  for (;;) {
    if (channel->lastSeq < channel->catchUp().fillTarget) {
      port_.fetchFill(*channel, channel->lastSeq);  // may answer at once: touch nothing after it
      return;
    }
    if (!drainHeld(channel)) break;
  }
  finishFill(channel);
}

void ChannelStream::onFillPage(Channel* channel, const wire::HistoryPage& page) {
  ChannelCatchUp& catchUp = channel->catchUp();
  if (page.epoch() != channel->epoch) {
    // The old epoch's fill target means nothing in the new one (a fast channel moved to a new epoch
    // at its durable seq, below what it had shown): go on from where the new epoch stands.
    resync(channel, page.epoch(), page.last_seq());
    continueFill(channel);  // nothing is missing any more: on to the held messages
    return;
  }
  const uint64_t before = channel->lastSeq;
  for (const wire::Delivery& m : page.msgs()) {
    if (m.seq() <= channel->lastSeq) continue;
    if (m.seq() != channel->lastSeq + 1) resync(channel, channel->epoch, m.seq() - 1);  // lost range
    deliver(channel, m);
    metrics_.gapMessagesFilled++;
  }
  if (channel->lastSeq == before || (!page.more() && channel->lastSeq < catchUp.fillTarget)) {
    // History ends before the target: retention or a reset lost those messages.
    resync(channel, channel->epoch, catchUp.fillTarget);
  }
  continueFill(channel);
}

void ChannelStream::onFillFailed(Channel* channel) {
  // The hub cannot tell us now; rather than hold clients back, say what is missing.
  resync(channel, channel->epoch, channel->catchUp().fillTarget);
  continueFill(channel);
}

// Delivers the held messages that follow on in order. Returns true when a hole among them set a new
// fill target (and keeps the messages after it), false when none is left to deliver.
bool ChannelStream::drainHeld(Channel* channel) {
  ChannelCatchUp& catchUp = channel->catchUp();
  auto& held = catchUp.held;
  std::sort(held.begin(), held.end(), [](const wire::Delivery& a, const wire::Delivery& b) { return a.seq() < b.seq(); });
  size_t next = 0;
  bool hole = false;
  for (; next < held.size(); ++next) {
    const wire::Delivery& m = held[next];
    if (m.seq() <= channel->lastSeq) continue;
    if (m.seq() != channel->lastSeq + 1) {
      catchUp.fillTarget = m.seq() - 1;
      hole = true;
      break;
    }
    deliver(channel, m);
  }
  held.erase(held.begin(), held.begin() + static_cast<std::ptrdiff_t>(next));
  return hole;
}

void ChannelStream::finishFill(Channel* channel) {
  channel->catchUp().held.clear();
  channel->catchUp().filling = false;
  channel->trimCatchUp();
  leave(channel, nullptr);  // removed here if everybody left during the fill
}

}  // namespace webim
