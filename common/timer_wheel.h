// Hashed timer wheel: one per event loop, so connections need no uv_timer each (docs/architecture.md,
// "Budgets"). Pure: the caller passes the time in and arms one uv_timer from nextDueMs().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

namespace webim {

struct TimerNode {  // intrusive; owned by the caller; must be cancelled (or fired) before it is destroyed
  TimerNode* prev = nullptr;
  TimerNode* next = nullptr;
  uint64_t deadlineMs = 0;
  void (*fire)(TimerNode*) = nullptr;  // called once when due; the node is unlinked before the call, so fire may re-schedule it or free its owner
  bool scheduled() const noexcept { return prev != nullptr; }
};

// Slot i holds the nodes whose deadline tick (deadlineMs / tickMs) is i modulo slotCount; a node
// stays in its slot across rotations until due, so each node costs one visit per rotation.
//
// Contracts:
// - advance() fires every node with deadlineMs <= nowMs, in deadline order (ties in scheduling
//   order), never early. All due nodes are collected first, then fired one by one; a callback may
//   cancel, re-schedule or free any node (its own included), and a due node cancelled by an earlier
//   callback does not fire. A node scheduled from inside a callback with a deadline <= nowMs fires
//   on the next advance(), not this one, which bounds the work of one call.
// - Time never goes back: an advance() to an earlier time than before fires only what is due at
//   that earlier time.
// - Not thread-safe; not copyable or movable (nodes point into the wheel's slots). Nodes still
//   scheduled when the wheel is destroyed are detached (left unscheduled, never fired).
class TimerWheel {
 public:
  // Hashed wheel; deadlines beyond one rotation stay in their slot until due.
  // Throws std::invalid_argument when tickMs or slotCount is 0.
  explicit TimerWheel(uint64_t nowMs, uint32_t tickMs = 50, size_t slotCount = 1024);
  ~TimerWheel();
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  void schedule(TimerNode& node, uint64_t deadlineMs) noexcept;  // re-schedules if already scheduled
  void cancel(TimerNode& node) noexcept;                          // safe if not scheduled
  void advance(uint64_t nowMs);  // fires every node with deadlineMs <= nowMs, never early; may be called with the same time twice
  size_t size() const noexcept;
  // The earliest tick boundary (a multiple of tickMs) at or after the earliest deadline: advancing
  // to it fires at least one node, and nodes due within one tick fire together rather than waking
  // the loop once each. When the earliest deadline is already <= the time of the last advance(),
  // that deadline itself is returned (arm the timer with zero delay). Costs a scan of the slots up
  // to the first one holding a node due within this rotation. nullopt if empty.
  std::optional<uint64_t> nextDueMs() const;

 private:
  TimerNode& slotFor(uint64_t tick) noexcept { return slots_[tick % slotCount_]; }
  void moveDueNodes(TimerNode& slot, uint64_t nowMs, TimerNode& due) noexcept;

  std::unique_ptr<TimerNode[]> slots_;  // sentinels of circular doubly-linked lists
  size_t slotCount_;
  uint32_t tickMs_;
  uint64_t currentTick_;  // the tick of the latest advance(); its slot may still hold later nodes
  uint64_t nowMs_;        // the latest advance() time
  size_t size_ = 0;
};

}  // namespace webim
