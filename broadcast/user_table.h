// The hub's user -> holders table (docs/architecture.md "Inboxes are routed, not subscribed"): one
// entry per user connected to any frontend, so a million of them must stay small and a growth must
// not stall the hub's loop. Pure.
//
// Layout: open addressing with linear probing over one array of 16-byte slots: 8 bytes of key, then
// the 8-byte Holders. The key is the id itself when it has at most 7 bytes (the 7-digit ids of
// today), the number when it is a decimal of 8-16 digits without a leading zero (ids to come), else
// a pointer to its own heap copy; a tag byte says which. Slot i of a table of capacity C is where a
// key's probe starts when (hash * C) >> 64 == i, so C need not be a power of two: the table grows
// by 1.25x from a load of 0.8 and stays between 0.64 and 0.8 full (16 / load = 20-25 bytes a
// user). Deletion shifts the rest of the probe run back (no tombstones).
//
// Growth is incremental: past the load limit the full table becomes the `old` one and a table 1.25x
// as large is allocated; every insert and erase then moves up to kMigrateSlots slots of the old
// table into the new one (lookups look in both, a moved slot is simply emptied), so no single call
// rehashes a million users (a table of up to kRehashAtOnce slots, 1 MiB, is moved at once: well
// under a millisecond). Below a load of 1/8 the table shrinks the same way, to a load of 0.4.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace webim::hub {

// A user's holding frontends (InboxRouter): their count and the first three of their 16-bit indices.
struct Holders {
  static constexpr uint16_t kInline = 3;
  uint16_t count = 0;
  uint16_t first[kInline] = {};
};
static_assert(sizeof(Holders) == 8);

class UserTable {
 public:
  // Slots of the old table moved per insert or erase while growing: C old slots are moved within
  // C / 64 inserts, long before the new table (1.25x, starting 0.64 full) passes 0.8 (0.2 C inserts).
  static constexpr size_t kMigrateSlots = 64;
  static constexpr size_t kMinCapacity = 16;
  static constexpr size_t kRehashAtOnce = 65536;

  enum class Visit { Keep, Erase, Stop };

  // `rehashAtOnce`: old tables of up to this many slots are moved in one go (tests pass 0).
  explicit UserTable(size_t rehashAtOnce = kRehashAtOnce) : rehashAtOnce_(rehashAtOnce) {}
  UserTable(const UserTable&) = delete;
  UserTable& operator=(const UserTable&) = delete;
  ~UserTable();

  // Pointers returned stay valid until the next insert or erase.
  Holders* find(std::string_view user) noexcept;
  const Holders* find(std::string_view user) const noexcept;
  // The user's entry, inserted with no holders when absent.
  Holders& findOrInsert(std::string_view user);
  // False when the user had no entry.
  bool erase(std::string_view user);
  // A walk of the table in slices: calls visit(std::string_view user, Holders&) for the entries in
  // the slots [from, from + slots) of the walk's order (the old table's slots, then the current
  // table's); its answer keeps the entry, erases it, or stops the walk. Returns where to go on, or
  // npos once the walk has passed the last slot (or visit said Stop: the position of that entry).
  // visit must not change the table, and must be harmless to repeat: an entry may be seen twice (an erase shifts a run that wraps past
  // the table's end back onto slots already walked). The table may change between slices; an entry
  // moved meanwhile (a shift, a growth) may then be missed by that walk: a caller that must see
  // every entry walks again while it still has work.
  static constexpr size_t npos = SIZE_MAX;
  template <class F>
  size_t visitSlice(size_t from, size_t slots, F&& visit);

  size_t size() const noexcept { return cur_.size + old_.size; }
  // Slots allocated (both tables while growing): size() / capacity() is the load.
  size_t capacity() const noexcept { return cur_.capacity + old_.capacity; }
  bool migrating() const noexcept { return old_.capacity != 0; }
  // Heap bytes: the slot arrays plus the copies of ids kept on the heap.
  size_t memoryBytes() const noexcept;

 private:
  static constexpr uint8_t kEmpty = 0;  // tags 1..8: an inline id of tag - 1 bytes
  static constexpr uint8_t kNumber = 9;  // a decimal id of 8-16 digits, as a 56-bit number
  static constexpr uint8_t kHeap = 10;   // a pointer to [uint32_t length][the id]
  static constexpr size_t kKeyBytes = 7;
  static constexpr size_t kMaxDigits = 16;  // 10^16 < 2^56
  struct Slot {
    unsigned char key[kKeyBytes];  // unused bytes are zero, so equal keys have equal bytes
    uint8_t tag;
    Holders holders;
  };
  static_assert(sizeof(Slot) == 16);
  // A looked-up id in its slot form.
  struct Key {
    Slot slot{};
    std::string_view text;
    uint64_t hash = 0;
  };
  // Slot arrays of kMapBytes or more are mapped on their own (mmap), not taken from malloc's heap:
  // pages never written cost nothing, and a table given up after a growth goes back to the system
  // at once instead of leaving a hole in the heap that stays resident.
  static constexpr size_t kMapBytes = 4096;  // a page: only tables of fewer than 256 slots are in the heap
  struct FreeSlots {
    FreeSlots() noexcept : bytes(0) {}
    explicit FreeSlots(size_t size) noexcept : bytes(size) {}
    void operator()(Slot* slots) const noexcept;
    size_t bytes;
  };
  struct Table {
    std::unique_ptr<Slot[], FreeSlots> slots;
    size_t capacity = 0;
    size_t size = 0;
    size_t heapBytes = 0;  // of ids kept on the heap
    // Migrating (the old table only): the slots [gapBegin, gapEnd) were moved and are empty. The
    // range starts just after an empty slot, so an entry whose probe would start in it was in the
    // same run and sits at gapEnd or later: its probe starts at gapEnd.
    size_t gapBegin = 0;
    size_t gapEnd = 0;

    size_t home(uint64_t hash) const noexcept;
    size_t next(size_t i) const noexcept { return i + 1 == capacity ? 0 : i + 1; }
    // The slot holding `key`, or capacity when absent.
    size_t locate(const Key& key) const noexcept;
    // Places a slot whose key is absent (the table has room); returns its index.
    size_t place(const Slot& slot) noexcept;
    // Empties slot i and shifts the rest of its probe run back; the slot's key is not freed.
    void removeAt(size_t i) noexcept;
    void freeKey(const Slot& slot) noexcept;
    void releaseKeys() noexcept;
    size_t firstEmpty() const noexcept;
  };

  static Key encode(std::string_view user) noexcept;
  static uint64_t hashOf(const Slot& slot) noexcept;
  static bool sameKey(const Slot& slot, const Key& key) noexcept;
  // The id of an occupied slot; a number is written into `digits`.
  static std::string_view textOf(const Slot& slot, char (&digits)[kMaxDigits]) noexcept;
  static const char* heapBlock(const Slot& slot) noexcept;
  static Table allocate(size_t capacity);
  static size_t capacityFor(size_t users) noexcept;
  void startResize(size_t capacity);
  // Moves up to `slots` slots of the old table into the current one.
  void migrate(size_t slots) noexcept;
  void finishMigration() noexcept { migrate(old_.capacity + old_.size); }
  void afterErase();

  Table cur_;
  size_t rehashAtOnce_;
  Table old_;  // capacity 0 unless migrating
};

template <class F>
size_t UserTable::visitSlice(size_t from, size_t slots, F&& visit) {
  size_t pos = from;
  for (size_t budget = slots; budget > 0; --budget) {
    Table& t = pos < old_.capacity ? old_ : cur_;
    const size_t i = pos < old_.capacity ? pos : pos - old_.capacity;
    if (i >= t.capacity) break;
    Slot& slot = t.slots[i];
    if (slot.tag != kEmpty) {
      char digits[kMaxDigits];
      const Visit v = visit(textOf(slot, digits), slot.holders);
      if (v == Visit::Stop) return pos;
      if (v == Visit::Erase) {
        t.freeKey(slot);
        t.removeAt(i);  // slot i now holds the run's next entry, if any: visited next
        continue;
      }
    }
    ++pos;
  }
  const bool done = pos >= old_.capacity + cur_.capacity;
  if (done && old_.capacity != 0 && old_.size == 0) old_ = Table{};
  afterErase();  // may start a shrink: positions change, which the next walk copes with
  return done ? npos : pos;
}

}  // namespace webim::hub
