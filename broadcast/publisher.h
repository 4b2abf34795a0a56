// The hub's publish socket (XPUB), the third step of the loop: what goes out after a batch's acks
// (its messages and kicks), between batches (syncs) and on a frontend's subscribe (the boot id).
// Every message is [topic '\0'][payload]; inbox messages are routed (docs/architecture.md
// "Inboxes are routed, not subscribed"): once to each frontend holding the user, on that
// frontend's own topic.
//
// Contract: call only with what is durable (a committed batch, positions read between batches):
// nothing past the durable seq is ever published (docs/architecture.md "Durability").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>

#include "broadcast/delivery.h"
#include "broadcast/history_store.h"
#include "broadcast/inbox_router.h"
#include "broadcast/sync_schedule.h"
#include "broadcast/zmq_io.h"

namespace webim::hub {

class Publisher {
 public:
  Publisher(zmq::socket_ref pub, const InboxRouter& inboxes) : pub_(pub), inboxes_(inboxes) {}

  // A committed batch's messages, in sequencing order; each channel's sync falls due again.
  void publishMessages(const std::vector<StoredMessage>& messages);
  // The same, only the messages `pick(message)` selects (a fast namespace's, published once
  // written: delivery_mode.h); returns how many.
  template <class Pick>
  size_t publishMessages(const std::vector<StoredMessage>& messages, Pick&& pick);
  // A signal (never stored) to the channel's subscribers, at once: a Delivery with `signal` set.
  void publishSignal(const std::string& channel, const std::string& from, const std::string& data, int64_t tsMs);
  // A read receipt on `onChannel` (the channel read, or the reader's inbox), like a signal: a
  // Delivery with `signal` and `read` set (read_receipts.cpp).
  void publishReceipt(const std::string& onChannel, const std::string& channel, const std::string& user, uint64_t seq);
  // A watched user's presence changed: a Delivery with `watch` set on the frontend's own topic.
  void publishWatch(std::string_view frontendId, const std::string& user, bool online, int64_t lastSeenMs);
  // A channel presence event (never stored) to the channel's subscribers: a Delivery with `signal`
  // set and the users who joined and left (docs/architecture.md "Channel presence").
  void publishPresence(const std::string& channel, const std::vector<std::string>& join,
                       const std::vector<std::string>& leave, int64_t tsMs);
  // A stored kick (its revocation committed) on the control topic every frontend subscribes.
  void publishKick(const std::string& user, uint32_t code, const std::string& reason, int64_t notBeforeMs);
  // A frontend subscribed its own topic: the hub's boot id tells it whether to attach again.
  void publishBoot(std::string_view frontendId, uint64_t bootId);
  // Answers subscribes: sync{epoch, last} for each channel (may be dropped at the HWM: a joiner
  // that misses it asks on the request path).
  void publishSyncs(const std::vector<std::string>& channels, const std::vector<ChannelMeta>& positions);
  // `channel`'s sync falls due (a new epoch to tell its subscribers).
  void syncDue(const std::string& channel) { syncsDue_.written(channel); }
  // A frontend subscribed `channel`: written lately, its syncs after writes are due again.
  void subscribed(const std::string& channel) { syncsDue_.subscribed(channel); }
  // One round of the syncs due after writes (SyncSchedule): state(channel) is the channel's told
  // position (Sequencer::channelState: durable, or written for a fast channel; nullopt: nothing to
  // send). Returns the syncs deferred (a pipe was full).
  template <class State>
  size_t syncWritten(State&& state);

 private:
  // [channel '\0'][payload]. XPUB drops (never blocks) for a subscriber past its HWM, and the
  // frontend refills the gap from history. `whole`: queued to every matching pipe or, when one of
  // them is at its HWM, to none (false) instead of being dropped for that one.
  bool publish(std::string_view channel, std::string_view payload, bool whole = false);
  // The same, sending `payload` itself (it is empty afterwards, when sent).
  bool publish(std::string_view channel, zmq::message_t& payload, bool whole = false);
  // Inbox channels to each holding frontend, the rest on the channel's topic. True when every send
  // was queued (always, unless `whole`).
  bool publishRouted(const std::string& channel, std::string_view payload, bool whole = false);
  bool publishRouted(const std::string& channel, zmq::message_t& payload, bool whole = false);
  void warnAbandoned(const std::vector<std::string>& channels);
  void publishMessage(const StoredMessage& message);

  zmq::socket_ref pub_;
  const InboxRouter& inboxes_;
  SyncSchedule syncsDue_;
  std::string topic_;  // reused: no allocation per publish
};

template <class Pick>
size_t Publisher::publishMessages(const std::vector<StoredMessage>& messages, Pick&& pick) {
  size_t n = 0;
  for (const StoredMessage& m : messages) {
    if (!pick(m)) continue;
    publishMessage(m);
    ++n;
  }
  return n;
}

template <class State>
size_t Publisher::syncWritten(State&& state) {
  // Pending commands first: a pipe that overflowed counts as gone (ZMQ_XPUB_NODROP skips it) until
  // the socket has taken in that the frontend read from it.
  takeCommands(pub_);
  SyncSchedule::Round round = syncsDue_.round([&](const std::string& channel) {
    std::optional<ChannelMeta> meta = state(channel);
    return !meta || publishRouted(channel, syncMarker(channel, *meta), /*whole=*/true);
  });
  if (!round.abandoned.empty()) warnAbandoned(round.abandoned);
  return round.deferred;
}

}  // namespace webim::hub
