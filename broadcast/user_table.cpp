#include "broadcast/user_table.h"

#include <sys/mman.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <utility>

#include "common/mix64.h"

namespace webim::hub {

namespace {

__extension__ typedef unsigned __int128 Wide;

// The load limit, 0.8: past it the table grows by a quarter.
bool overLoaded(size_t users, size_t capacity) noexcept { return users * 5 > capacity * 4; }


// A decimal without a leading zero, 8-16 digits: kept as its number.
bool isNumber(std::string_view s) noexcept {
  if (s.size() < 8 || s.size() > 16 || s.front() == '0') return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

void UserTable::FreeSlots::operator()(Slot* slots) const noexcept {
  if (bytes >= kMapBytes) {
    munmap(slots, bytes);
  } else {
    std::free(slots);
  }
}

UserTable::~UserTable() {
  cur_.releaseKeys();
  old_.releaseKeys();
}

// Multiply-shift maps the hash onto any capacity, not only powers of two.
size_t UserTable::Table::home(uint64_t hash) const noexcept {
  return static_cast<size_t>((static_cast<Wide>(hash) * capacity) >> 64);
}

size_t UserTable::Table::locate(const Key& key) const noexcept {
  if (size == 0) return capacity;
  size_t i = home(key.hash);
  const bool inGap = gapBegin <= gapEnd ? (i >= gapBegin && i < gapEnd) : (i >= gapBegin || i < gapEnd);
  if (inGap) i = gapEnd;
  for (;; i = next(i)) {  // there is always an empty slot (load <= 0.8)
    const Slot& slot = slots[i];
    if (slot.tag == kEmpty) return capacity;
    if (sameKey(slot, key)) return i;
  }
}

size_t UserTable::Table::place(const Slot& slot) noexcept {
  size_t i = home(hashOf(slot));
  while (slots[i].tag != kEmpty) i = next(i);
  slots[i] = slot;
  ++size;
  if (slot.tag == kHeap) {
    uint32_t length = 0;
    std::memcpy(&length, heapBlock(slot), sizeof length);
    heapBytes += sizeof length + length;
  }
  return i;
}

// Backward-shift deletion: each later slot of the run moves into the hole unless its probe starts
// after the hole (cyclically in (hole, j]), so every probe still finds its key without tombstones.
void UserTable::Table::removeAt(size_t i) noexcept {
  size_t hole = i;
  for (size_t j = next(i); slots[j].tag != kEmpty; j = next(j)) {
    const size_t h = home(hashOf(slots[j]));
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
  const char* block = heapBlock(slot);
  uint32_t length = 0;
  std::memcpy(&length, block, sizeof length);
  heapBytes -= sizeof length + length;
  delete[] block;
}

void UserTable::Table::releaseKeys() noexcept {
  for (size_t i = 0; i < capacity && heapBytes > 0; ++i) freeKey(slots[i]);
}

size_t UserTable::Table::firstEmpty() const noexcept {
  size_t i = 0;
  while (slots[i].tag != kEmpty) ++i;
  return i;
}

// The pointer's 7 low bytes: user-space addresses stay below 2^56 (48-bit, or 57-bit with 5-level
// paging on x86-64; 48 or 52 on arm64).
const char* UserTable::heapBlock(const Slot& slot) noexcept {
  uint64_t bits = 0;
  std::memcpy(&bits, slot.key, kKeyBytes);
  return reinterpret_cast<const char*>(static_cast<uintptr_t>(bits));
}

UserTable::Key UserTable::encode(std::string_view user) noexcept {
  Key k;
  k.text = user;
  if (user.size() <= kKeyBytes) {
    std::memcpy(k.slot.key, user.data(), user.size());
    k.slot.tag = static_cast<uint8_t>(user.size() + 1);
  } else if (isNumber(user)) {
    uint64_t number = 0;
    std::from_chars(user.data(), user.data() + user.size(), number);
    std::memcpy(k.slot.key, &number, kKeyBytes);
    k.slot.tag = kNumber;
  } else {
    k.slot.tag = kHeap;  // the copy is made only when inserted
    k.hash = std::hash<std::string_view>{}(user);
    return k;
  }
  k.hash = hashOf(k.slot);
  return k;
}

uint64_t UserTable::hashOf(const Slot& slot) noexcept {
  if (slot.tag == kHeap) {
    char unused[kMaxDigits];
    return std::hash<std::string_view>{}(textOf(slot, unused));
  }
  uint64_t word = 0;
  std::memcpy(&word, slot.key, kKeyBytes);
  // mix64: every bit of an inline or numeric key reaches the high bits `home` uses.
  return mix64(word | static_cast<uint64_t>(slot.tag) << 56);
}

bool UserTable::sameKey(const Slot& slot, const Key& key) noexcept {
  if (slot.tag != key.slot.tag) return false;
  if (slot.tag != kHeap) return std::memcmp(slot.key, key.slot.key, kKeyBytes) == 0;
  char unused[kMaxDigits];
  return textOf(slot, unused) == key.text;
}

std::string_view UserTable::textOf(const Slot& slot, char (&digits)[kMaxDigits]) noexcept {
  if (slot.tag == kNumber) {
    uint64_t number = 0;
    std::memcpy(&number, slot.key, kKeyBytes);
    const auto end = std::to_chars(digits, digits + kMaxDigits, number).ptr;
    return {digits, static_cast<size_t>(end - digits)};
  }
  if (slot.tag == kHeap) {
    const char* block = heapBlock(slot);
    uint32_t length = 0;
    std::memcpy(&length, block, sizeof length);
    return {block + sizeof length, length};
  }
  return {reinterpret_cast<const char*>(slot.key), static_cast<size_t>(slot.tag - 1)};
}

// Zeroed memory: an empty slot is all zero bytes.
UserTable::Table UserTable::allocate(size_t capacity) {
  const size_t bytes = capacity * sizeof(Slot);
  void* memory = nullptr;
  if (bytes >= kMapBytes) {
    memory = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) memory = nullptr;
  } else {
    memory = std::calloc(capacity, sizeof(Slot));
  }
  if (memory == nullptr) throw std::bad_alloc();
  Table t;
  t.slots = std::unique_ptr<Slot[], FreeSlots>(static_cast<Slot*>(memory), FreeSlots{bytes});
  t.capacity = capacity;
  return t;
}

// After a shrink the table is 0.4 full.
size_t UserTable::capacityFor(size_t users) noexcept { return std::max(kMinCapacity, users * 5 / 2); }

size_t UserTable::memoryBytes() const noexcept {
  return (cur_.capacity + old_.capacity) * sizeof(Slot) + cur_.heapBytes + old_.heapBytes;
}

const Holders* UserTable::find(std::string_view user) const noexcept {
  const Key key = encode(user);
  if (size_t i = cur_.locate(key); i != cur_.capacity) return &cur_.slots[i].holders;
  if (size_t i = old_.locate(key); i != old_.capacity) return &old_.slots[i].holders;
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
    startResize(std::max(kMinCapacity, cur_.capacity + cur_.capacity / 4));
  }
  Key key = encode(user);
  if (key.slot.tag == kHeap) {
    const uint32_t length = static_cast<uint32_t>(user.size());
    char* block = new char[sizeof length + user.size()];
    std::memcpy(block, &length, sizeof length);
    std::memcpy(block + sizeof length, user.data(), user.size());
    const uint64_t bits = reinterpret_cast<uintptr_t>(block);
    if ((bits >> (8 * kKeyBytes)) != 0) std::abort();  // see heapBlock: cannot happen in user space
    std::memcpy(key.slot.key, &bits, kKeyBytes);
  }
  return cur_.slots[cur_.place(key.slot)].holders;
}

bool UserTable::erase(std::string_view user) {
  const Key key = encode(user);
  for (Table* t : {&cur_, &old_}) {
    const size_t i = t->locate(key);
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
  if (old_.capacity <= rehashAtOnce_) finishMigration();
}

void UserTable::migrate(size_t slots) noexcept {
  for (; slots > 0 && old_.size > 0; --slots) {
    Slot& slot = old_.slots[old_.gapEnd];
    if (slot.tag != kEmpty) {
      if (slot.tag == kHeap) {
        uint32_t length = 0;
        std::memcpy(&length, heapBlock(slot), sizeof length);
        old_.heapBytes -= sizeof length + length;
      }
      cur_.place(slot);  // the key's heap copy, if any, moves with it
      slot = Slot{};
      --old_.size;
    }
    old_.gapEnd = old_.next(old_.gapEnd);
  }
  if (old_.size == 0) old_ = Table{};
}

}  // namespace webim::hub
