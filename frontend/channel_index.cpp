#include "frontend/channel_index.h"

#include <algorithm>
#include <cassert>
#include <functional>

namespace webim {

// Every connected user holds an inbox channel, so this is paid once per idle connection (docs/architecture.md
// "Budgets"); keep it from growing unnoticed.
static_assert(sizeof(SubscriberList) == 8);
static_assert(sizeof(Channel) <= 72);

namespace {

// A table this small fits in a cache line or two; below it shrinking saves nothing.
constexpr size_t kMinSlots = 16;

uint32_t hashOf(std::string_view name) noexcept {
  return static_cast<uint32_t>(std::hash<std::string_view>{}(name));
}

}  // namespace

void SubscriberList::push_back(Connection* subscriber) {
  assert(subscriber && !(reinterpret_cast<uintptr_t>(subscriber) & kBlockTag));
  if (!word_) {
    word_ = subscriber;
    return;
  }
  if (!onHeap()) {
    reallocate(4);
  } else if (block()->size == block()->capacity) {
    reallocate(block()->capacity * 2);
  }
  Block* b = block();
  b->items()[b->size++] = subscriber;
}

bool SubscriberList::erase(Connection* subscriber) {
  if (!onHeap()) {
    if (!subscriber || word_ != subscriber) return false;  // nullptr is the empty list, not a subscriber
    word_ = nullptr;
    return true;
  }
  Block* b = block();
  Connection** items = b->items();
  Connection** it = std::find(items, items + b->size, subscriber);
  if (it == items + b->size) return false;
  *it = items[--b->size];
  if (b->size == 1) {  // back inline (a block always holds two or more)
    word_ = items[0];
    ::operator delete(b);
  } else if (b->size <= b->capacity / 4) {
    reallocate(b->capacity / 2);  // half full, so a push_back right after does not grow it again
  }
  return true;
}

void SubscriberList::reallocate(uint32_t capacity) {
  auto* b = static_cast<Block*>(::operator new(sizeof(Block) + capacity * sizeof(Connection*)));
  b->size = static_cast<uint32_t>(size());
  b->capacity = capacity;
  std::copy(begin(), end(), b->items());
  if (onHeap()) ::operator delete(block());
  assert(!(reinterpret_cast<uintptr_t>(b) & kBlockTag));
  word_ = reinterpret_cast<Connection*>(reinterpret_cast<uintptr_t>(b) | kBlockTag);
}

ChannelIndex::~ChannelIndex() {
  for (Channel* channel : slots_) delete channel;
}

std::pair<Channel*, bool> ChannelIndex::acquire(std::string_view name) {
  const uint32_t hash = hashOf(name);
  Channel* channel = find(name, hash);
  bool created = false;
  if (!channel) {
    if ((size_ + 1) * 4 > slots_.size() * 3) rehash(std::max(kMinSlots, slots_.size() * 2));  // load <= 0.75
    auto owned = std::make_unique<Channel>();
    owned->name.assign(name);
    owned->hash = hash;
    const size_t mask = slots_.size() - 1;
    size_t slot = hash & mask;
    while (slots_[slot]) slot = (slot + 1) & mask;
    channel = slots_[slot] = owned.release();
    size_++;
    created = true;
  }
  channel->pins++;
  return {channel, created};
}

bool ChannelIndex::remove(Channel* channel, Connection* subscriber) {
  channel->subscribers.erase(subscriber);
  if (!channel->subscribers.empty() || channel->hasJoiners() || channel->pins != 0 ||
      channel->filling()) {
    return false;
  }
  eraseSlot(slotOf(channel));
  delete channel;
  // Halve below a load of 0.2 (to <= 0.4, well under the 0.75 that grows it), so a burst of
  // connections does not leave a peak-sized table behind.
  if (slots_.size() > kMinSlots && size_ * 5 < slots_.size()) rehash(slots_.size() / 2);
  return true;
}

Channel* ChannelIndex::find(std::string_view name) { return find(name, hashOf(name)); }

Channel* ChannelIndex::find(std::string_view name, uint32_t hash) {
  if (size_ == 0) return nullptr;
  const size_t mask = slots_.size() - 1;
  for (size_t slot = hash & mask; slots_[slot]; slot = (slot + 1) & mask) {
    Channel* channel = slots_[slot];
    if (channel->hash == hash && channel->name == name) return channel;
  }
  return nullptr;
}

size_t ChannelIndex::slotOf(const Channel* channel) const noexcept {
  const size_t mask = slots_.size() - 1;
  size_t slot = channel->hash & mask;
  while (slots_[slot] != channel) {
    assert(slots_[slot] && "the channel is not in this index");
    slot = (slot + 1) & mask;
  }
  return slot;
}

// Backward-shift deletion: moves later entries of the probe run into the hole when their home slot
// is not after it, so every entry stays reachable from its home without tombstones.
void ChannelIndex::eraseSlot(size_t hole) noexcept {
  const size_t mask = slots_.size() - 1;
  for (size_t slot = (hole + 1) & mask; slots_[slot]; slot = (slot + 1) & mask) {
    const size_t home = slots_[slot]->hash & mask;
    if (((slot - home) & mask) >= ((slot - hole) & mask)) {  // home is at or before the hole
      slots_[hole] = slots_[slot];
      hole = slot;
    }
  }
  slots_[hole] = nullptr;
  size_--;
}

void ChannelIndex::rehash(size_t capacity) {
  std::vector<Channel*> slots(capacity);
  const size_t mask = capacity - 1;
  for (Channel* channel : slots_) {
    if (!channel) continue;
    size_t slot = channel->hash & mask;
    while (slots[slot]) slot = (slot + 1) & mask;
    slots[slot] = channel;
  }
  slots_.swap(slots);
}

}  // namespace webim
