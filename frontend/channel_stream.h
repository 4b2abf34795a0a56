// The hub's stream of each channel as this frontend's subscribers see it: in seq order, each message
// once, never a gap within an epoch (docs/architecture.md, "Joining a channel without a gap" and
// "Gap filling"). One state machine per frontend, fed the hub's deliveries, syncs, attach answers
// and history pages; everything it needs from the process (subscribing a topic, reading a history
// page, fanning out to subscribers) goes through a ChannelStreamPort, so it holds no I/O and is
// unit-tested on its own (tests/unit/channel_stream_test.cpp).
//
// A channel's states: joining (in the index, not live: deliveries are dropped, joiners wait for the
// position), live and in order, filling (live; later messages are held while history serves the
// missing range), and back. A range history cannot give becomes a `resync` to the clients.
#pragma once

#include <cstdint>
#include <string_view>

#include "frontend/channel_index.h"
#include "frontend/metrics.h"
#include "frontend/task.h"
#include "proto/webim.pb.h"

namespace webim {

class Connection;
class ChannelStream;

// What the stream asks of the process. Every call may be the last thing a ChannelStream method
// does with the channel: an answer may come back at once (fetchFill) and end the fill.
class ChannelStreamPort {
 public:
  // The channel entered this frontend (its first holder) / left it (its last): subscribe or
  // unsubscribe its topic upstream, or note an inbox for attaching / detaching.
  virtual void channelOpened(std::string_view name) = 0;
  virtual void channelClosed(std::string_view name) = 0;
  // Reads the page of history after `after` (up to the channel's fill target and beyond). Answers
  // with ChannelStream::onFillPage or onFillFailed, at once or later; or never, when the process is
  // shutting down. The channel stays valid until answered (a filling channel stays in the index).
  virtual void fetchFill(Channel& channel, uint64_t after) = 0;
  // Fans out to the channel's live subscribers: a message, or a resync{ch, epoch, seq}.
  virtual void deliver(Channel& channel, const wire::Delivery& delivery) = 0;
  virtual void resync(Channel& channel, uint64_t epoch, uint64_t seq) = 0;
  // Fans a signal (Delivery with `signal` set: no epoch or seq) out to the live subscribers.
  virtual void deliverSignal(Channel& channel, const wire::Delivery& delivery) = 0;
  // A live subscriber left the channel (channel presence counts it; docs/architecture.md).
  virtual void subscriberLeft(Channel& /*channel*/, Connection& /*subscriber*/) {}

 protected:
  ~ChannelStreamPort() = default;
};

// Holds a channel in the index while its holder catches up (a subscriber joining or recovering, a
// loop resuming joiners): the channel cannot be freed under it. Dropping the last pin of a channel
// nobody subscribes to, joins or fills removes it (and closes it upstream). Move-only; pins live in
// coroutine frames and on the stack, never in a connection.
class ChannelPin {
 public:
  ChannelPin() = default;
  ChannelPin(ChannelPin&& other) noexcept : stream_(other.stream_), channel_(other.channel_) { other.channel_ = nullptr; }
  ChannelPin& operator=(ChannelPin&& other) noexcept;
  ChannelPin(const ChannelPin&) = delete;
  ChannelPin& operator=(const ChannelPin&) = delete;
  ~ChannelPin() { reset(); }

  Channel* get() const noexcept { return channel_; }
  Channel* operator->() const noexcept { return channel_; }
  Channel& operator*() const noexcept { return *channel_; }
  // Lets go now (the channel may be gone afterwards).
  void reset();

 private:
  friend class ChannelStream;
  // Adopts one count of channel->pins.
  ChannelPin(ChannelStream& stream, Channel* channel) noexcept : stream_(&stream), channel_(channel) {}

  ChannelStream* stream_ = nullptr;
  Channel* channel_ = nullptr;
};

// A subscribe request waiting for its channel's position (a sync, an attach, or the request path's
// answer). Done once the channel is live; TimedOut at the deadline; Cancelled with its owner.
class JoinWait final : public PendingOp {
 public:
  JoinWait(Channel& channel, PendingOp*& ownerList, TimerWheel& wheel, uint64_t deadlineMs);
  WaitStatus await_resume() const noexcept { return status_; }
  void joined() { complete(WaitStatus::Done); }

 private:
  void detach() noexcept override;
  Channel* channel_;
};

class ChannelStream {
 public:
  // Held messages are only a shortcut: beyond this many per channel, history serves them too.
  static constexpr size_t kMaxHeld = 1024;

  ChannelStream(ChannelStreamPort& port, Metrics& metrics) : port_(port), metrics_(metrics) {}
  ChannelStream(const ChannelStream&) = delete;
  ChannelStream& operator=(const ChannelStream&) = delete;

  // ---- channels here ----
  // A subscriber starts catching up on `name`: the channel, pinned, opened upstream if new here.
  // The subscriber goes live with `channel->subscribers.push_back` once it caught up.
  ChannelPin join(std::string_view name);
  // Another pin on a channel in the index.
  ChannelPin pin(Channel* channel);
  // Removes `subscriber` (nullptr: none) from the channel, and the channel from the index once
  // nobody subscribes, joins, pins or fills it (closing it upstream). `channel` may be gone after.
  void leave(Channel* channel, Connection* subscriber);
  Channel* find(std::string_view name) { return index_.find(name); }
  ChannelIndex& index() noexcept { return index_; }
  size_t size() const noexcept { return index_.size(); }

  // ---- the hub's stream ----
  // A message or a sync from the publish socket (a channel not held here is ignored).
  void onDelivery(const wire::Delivery& delivery);
  // The hub acknowledged routing an inbox here, at this position.
  void onAttached(Channel* channel, uint64_t epoch, uint64_t lastSeq);
  // The request path told a joiner the position (its sync was late): live there unless already
  // live; on a live channel, a position of its epoch past ours is filled like a sync's.
  void onPositionAsked(Channel* channel, uint64_t epoch, uint64_t lastSeq);
  // The answers to fetchFill.
  void onFillPage(Channel* channel, const wire::HistoryPage& page);
  void onFillFailed(Channel* channel);

 private:
  void onSync(Channel* channel, uint64_t epoch, uint64_t seq);
  void goLive(Channel* channel, uint64_t epoch, uint64_t lastSeq);
  void deliver(Channel* channel, const wire::Delivery& delivery);
  void resync(Channel* channel, uint64_t epoch, uint64_t seq);
  void hold(Channel* channel, const wire::Delivery& delivery);
  void startFill(Channel* channel, uint64_t target);
  void continueFill(Channel* channel);
  bool drainHeld(Channel* channel);
  void finishFill(Channel* channel);

  ChannelStreamPort& port_;
  Metrics& metrics_;
  ChannelIndex index_;
};

}  // namespace webim
