// The frontend's local channel -> subscribers index, with each channel's position in its stream.
//
// A channel enters the index with its first local subscriber; the frontend then subscribes its topic
// upstream and the channel is "joining" until the hub's sync says where the stream starts (epoch,
// last seq). Deliveries before that are dropped: they are at or before the sync's seq, which the
// joining clients' `ok` reports as their starting point. When the last local subscriber leaves, the
// channel leaves the index and the topic is unsubscribed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proto/webim.pb.h"

namespace webim {

class Connection;
class JoinWait;

// Joining and gap-filling state: most channels are quiet and in order, so it lives apart.
struct ChannelCatchUp {
  std::vector<JoinWait*> joiners;      // subscribe requests waiting for the sync
  bool filling = false;                // a gap fill is running (ARCHITECTURE.md)
  uint64_t fillTarget = 0;             // fill from history up to this seq
  std::vector<wire::Delivery> held;    // live messages that arrived after the hole, by arrival
};

struct Channel {
  std::string name;
  std::vector<Connection*> subscribers;
  std::unique_ptr<ChannelCatchUp> catchUpState;
  uint64_t epoch = 0;
  uint64_t lastSeq = 0;
  uint32_t pendingJoins = 0;  // subscribers catching up (sync, recovery) before they go live
  bool live = false;

  ChannelCatchUp& catchUp() {
    if (!catchUpState) catchUpState = std::make_unique<ChannelCatchUp>();
    return *catchUpState;
  }
  bool filling() const noexcept { return catchUpState && catchUpState->filling; }
  bool hasJoiners() const noexcept { return catchUpState && !catchUpState->joiners.empty(); }
  // Frees the catch-up state once nothing waits and no fill runs.
  void trimCatchUp() noexcept {
    if (catchUpState && catchUpState->joiners.empty() && !catchUpState->filling && catchUpState->held.empty()) {
      catchUpState.reset();
    }
  }
};

class ChannelIndex {
 public:
  // Finds or creates the channel for a subscriber that is about to catch up, counting it in
  // pendingJoins (which keeps the channel alive); returns whether it is new (the caller subscribes
  // upstream). The subscriber goes live with `channel->subscribers.push_back` once it caught up.
  std::pair<Channel*, bool> acquire(std::string_view name);
  // Removes `subscriber` (if live); returns true when the channel has no subscriber, joiner or
  // pending join left and was erased (the caller unsubscribes upstream). `channel` is invalid after
  // a true return.
  bool remove(Channel* channel, Connection* subscriber);
  Channel* find(std::string_view name);
  template <class F>
  void forEach(F&& f) {
    for (auto& [name, channel] : channels_) f(channel.get());
  }
  size_t size() const noexcept { return channels_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  // Keyed by a view of the channel's own name (no second copy of it).
  std::unordered_map<std::string_view, std::unique_ptr<Channel>, Hash, std::equal_to<>> channels_;
};

}  // namespace webim
