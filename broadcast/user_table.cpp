#include "broadcast/user_table.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <utility>

namespace webim::hub {

namespace {

__extension__ typedef unsigned __int128 Wide;

// The load limit, 0.8: past it the table grows by half.
bool overLoaded(size_t users, size_t capacity) noexcept { return users * 5 > capacity * 4; }

}  // namespace

void UserTable::FreeSlots::operator()(Slot* slots) const noexcept { std::free(slots); }

UserTable::~UserTable() {
  cur_.releaseKeys();
  old_.releaseKeys();
}

// Multiply-shift maps the hash onto any capacity, not only powers of two.
size_t UserTable::Table::home(std::string_view key) const noexcept {
  const uint64_t hash = std::hash<std::string_view>{}(key);
  return static_cast<size_t>((static_cast<Wide>(hash) * capacity) >> 64);
}

size_t UserTable::Table::locate(std::string_view key) const noexcept {
  if (size == 0) return capacity;
  size_t i = home(key);
  const bool inGap = gapBegin <= gapEnd ? (i >= gapBegin && i < gapEnd) : (i >= gapBegin || i < gapEnd);
  if (inGap) i = gapEnd;
  for (;; i = next(i)) {  // there is always an empty slot (load <= 0.8)
    const Slot& slot = slots[i];
    if (slot.tag == kEmpty) return capacity;
    if (keyOf(slot) == key) return i;
  }
}

size_t UserTable::Table::place(const Slot& slot) noexcept {
  size_t i = home(keyOf(slot));
  while (slots[i].tag != kEmpty) i = next(i);
  slots[i] = slot;
  ++size;
  if (slot.tag == kHeap) heapBytes += keyOf(slot).size();
  return i;
}

// Backward-shift deletion: each later slot of the run moves into the hole unless its probe starts
// after the hole (cyclically in (hole, j]), so every probe still finds its key without tombstones.
void UserTable::Table::removeAt(size_t i) noexcept {
  size_t hole = i;
  for (size_t j = next(i); slots[j].tag != kEmpty; j = next(j)) {
    const size_t h = home(keyOf(slots[j]));
    const bool stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
    if (stays) continue;
    slots[hole] = slots[j];
    hole = j;
  }
  slots[hole] = Slot{};
  --size;
}

void UserTable::Table::freeKey(const Slot& slot) noexcept {
  if (slot.tag != kHeap) return;
  const std::string_view key = keyOf(slot);
  heapBytes -= key.size();
  delete[] const_cast<char*>(key.data());
}

void UserTable::Table::releaseKeys() noexcept {
  for (size_t i = 0; i < capacity && heapBytes > 0; ++i) freeKey(slots[i]);
}

size_t UserTable::Table::firstEmpty() const noexcept {
  size_t i = 0;
  while (slots[i].tag != kEmpty) ++i;
  return i;
}

std::string_view UserTable::keyOf(const Slot& slot) noexcept {
  if (slot.tag != kHeap) return {reinterpret_cast<const char*>(slot.key), static_cast<size_t>(slot.tag - 1)};
  const char* data = nullptr;
  uint32_t size = 0;
  std::memcpy(&data, slot.key, sizeof data);
  std::memcpy(&size, slot.key + sizeof data, sizeof size);
  return {data, size};
}

// calloc: an empty slot is all zero bytes, and pages not yet written cost no memory.
UserTable::Table UserTable::allocate(size_t capacity) {
  Table t;
  t.slots.reset(static_cast<Slot*>(std::calloc(capacity, sizeof(Slot))));
  if (!t.slots) throw std::bad_alloc();
  t.capacity = capacity;
  return t;
}

// After a shrink the table is 0.4 full.
size_t UserTable::capacityFor(size_t users) noexcept { return std::max(kMinCapacity, users * 5 / 2); }

size_t UserTable::memoryBytes() const noexcept {
  return (cur_.capacity + old_.capacity) * sizeof(Slot) + cur_.heapBytes + old_.heapBytes;
}

const Holders* UserTable::find(std::string_view user) const noexcept {
  if (size_t i = cur_.locate(user); i != cur_.capacity) return &cur_.slots[i].holders;
  if (size_t i = old_.locate(user); i != old_.capacity) return &old_.slots[i].holders;
  return nullptr;
}

Holders* UserTable::find(std::string_view user) noexcept {
  return const_cast<Holders*>(std::as_const(*this).find(user));
}

Holders& UserTable::findOrInsert(std::string_view user) {
  if (Holders* holders = find(user)) return *holders;
  if (migrating()) {
    migrate(kMigrateSlots);
    if (overLoaded(size() + 1, cur_.capacity)) finishMigration();  // not expected: a safety net
  }
  if (!migrating() && overLoaded(cur_.size + 1, cur_.capacity)) {
    startResize(std::max(kMinCapacity, cur_.capacity + cur_.capacity / 2));
  }
  Slot slot{};
  if (user.size() <= kInlineBytes) {
    std::memcpy(slot.key, user.data(), user.size());
    slot.tag = static_cast<uint8_t>(user.size() + 1);
  } else {
    char* copy = new char[user.size()];
    std::memcpy(copy, user.data(), user.size());
    const uint32_t size = static_cast<uint32_t>(user.size());
    std::memcpy(slot.key, &copy, sizeof copy);
    std::memcpy(slot.key + sizeof copy, &size, sizeof size);
    slot.tag = kHeap;
  }
  return cur_.slots[cur_.place(slot)].holders;
}

bool UserTable::erase(std::string_view user) {
  for (Table* t : {&cur_, &old_}) {
    const size_t i = t->locate(user);
    if (i == t->capacity) continue;
    t->freeKey(t->slots[i]);
    t->removeAt(i);
    if (migrating()) migrate(kMigrateSlots);
    afterErase();
    return true;
  }
  return false;
}

void UserTable::afterErase() {
  if (!migrating() && cur_.capacity > kMinCapacity && cur_.size * 8 < cur_.capacity) {
    startResize(capacityFor(cur_.size));
  }
}

void UserTable::startResize(size_t capacity) {
  Table fresh = allocate(capacity);
  if (cur_.size == 0) {
    cur_ = std::move(fresh);
    return;
  }
  old_ = std::exchange(cur_, std::move(fresh));
  old_.gapBegin = old_.gapEnd = old_.next(old_.firstEmpty());
}

void UserTable::migrate(size_t slots) noexcept {
  for (; slots > 0 && old_.size > 0; --slots) {
    Slot& slot = old_.slots[old_.gapEnd];
    if (slot.tag != kEmpty) {
      if (slot.tag == kHeap) old_.heapBytes -= keyOf(slot).size();
      cur_.place(slot);  // the key's heap copy, if any, moves with it
      slot = Slot{};
      --old_.size;
    }
    old_.gapEnd = old_.next(old_.gapEnd);
  }
  if (old_.size == 0) old_ = Table{};
}

}  // namespace webim::hub
