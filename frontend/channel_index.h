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
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "proto/webim.pb.h"

namespace webim {

class Connection;
class JoinWait;

// Joining and gap-filling state: most channels are quiet and in order, so it lives apart.
struct ChannelCatchUp {
  std::vector<JoinWait*> joiners;      // subscribe requests waiting for the sync
  bool filling = false;                // a gap fill is running (docs/architecture.md)
  uint64_t fillTarget = 0;             // fill from history up to this seq
  std::vector<wire::Delivery> held;    // live messages that arrived after the hole, by arrival
};

// A channel's live subscribers, in no particular order. Every user's inbox is a channel of its own,
// almost always with one subscriber, so the list is one pointer-sized word: that subscriber itself,
// and only for more a heap block; the block shrinks again as subscribers leave so a room's peak does
// not stay allocated. Iterators stay valid until the next push_back or erase (delivering to
// subscribers does neither).
class SubscriberList {
 public:
  SubscriberList() = default;
  SubscriberList(const SubscriberList&) = delete;
  SubscriberList& operator=(const SubscriberList&) = delete;
  ~SubscriberList() {
    if (onHeap()) ::operator delete(block());
  }

  // Inline, the word itself is the one-element array.
  Connection* const* begin() const noexcept { return onHeap() ? block()->items() : &word_; }
  Connection* const* end() const noexcept { return begin() + size(); }
  size_t size() const noexcept { return onHeap() ? block()->size : word_ != nullptr; }
  size_t capacity() const noexcept { return onHeap() ? block()->capacity : 1; }
  bool empty() const noexcept { return word_ == nullptr; }  // a block is never empty
  void push_back(Connection* subscriber);
  // Removes `subscriber` by moving the last one into its place; returns whether it was there.
  bool erase(Connection* subscriber);

 private:
  // Two or more subscribers: the header, then `capacity` slots, in one allocation.
  struct Block {
    uint32_t size;
    uint32_t capacity;
    Connection** items() noexcept { return reinterpret_cast<Connection**>(this + 1); }
  };
  static_assert(sizeof(Block) % alignof(Connection*) == 0, "the slots follow the header unpadded");
  // Connections and blocks are at least 8-byte aligned, so bit 0 of a real pointer is always clear.
  static constexpr uintptr_t kBlockTag = 1;

  bool onHeap() const noexcept { return reinterpret_cast<uintptr_t>(word_) & kBlockTag; }
  Block* block() const noexcept {
    return reinterpret_cast<Block*>(reinterpret_cast<uintptr_t>(word_) & ~kBlockTag);
  }
  void reallocate(uint32_t capacity);

  // nullptr: no subscriber; untagged: the only subscriber; tagged with kBlockTag: a Block.
  Connection* word_ = nullptr;
};

// Every connected user owns one (its inbox), so the layout is kept free of padding: 72 bytes is
// glibc's 80-byte malloc chunk, where 73 would take a 96-byte one.
struct Channel {
  std::string name;
  SubscriberList subscribers;
  std::unique_ptr<ChannelCatchUp> catchUpState;
  uint64_t epoch = 0;
  uint64_t lastSeq = 0;
  uint32_t hash = 0;               // of name, so the index rehashes and erases without hashing strings
  uint32_t pins : 31 = 0;          // ChannelPins held (frontend/channel_stream.h); only they change it
  bool live : 1 = false;           // the hub's sync arrived: epoch and lastSeq follow the stream

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

// An open-addressing table of Channel* (linear probing, backward-shift deletion, so no tombstones)
// rather than a node-based map: one slot of 8 bytes per channel instead of a node and a bucket. It
// owns the channels; a Channel* stays valid while its channel is in the index, across rehashes.
class ChannelIndex {
 public:
  ChannelIndex() = default;
  ChannelIndex(const ChannelIndex&) = delete;
  ChannelIndex& operator=(const ChannelIndex&) = delete;
  ~ChannelIndex();

  // Finds or creates the channel for a subscriber that is about to catch up, counting one pin
  // (which keeps the channel alive; ChannelStream::join wraps it in a ChannelPin); returns whether
  // it is new (the caller subscribes upstream).
  std::pair<Channel*, bool> acquire(std::string_view name);
  // Removes `subscriber` (if live); returns true when the channel has no subscriber, joiner, pin or
  // fill left and was erased (the caller unsubscribes upstream). `channel` is invalid after
  // a true return.
  bool remove(Channel* channel, Connection* subscriber);
  Channel* find(std::string_view name);
  // `f` must not add or remove channels.
  template <class F>
  void forEach(F&& f) {
    for (Channel* channel : slots_) {
      if (channel) f(channel);
    }
  }
  size_t size() const noexcept { return size_; }
  size_t capacity() const noexcept { return slots_.size(); }

 private:
  Channel* find(std::string_view name, uint32_t hash);
  size_t slotOf(const Channel* channel) const noexcept;
  void eraseSlot(size_t slot) noexcept;
  void rehash(size_t capacity);

  std::vector<Channel*> slots_;  // a power of two in size, or empty
  size_t size_ = 0;
};

}  // namespace webim
