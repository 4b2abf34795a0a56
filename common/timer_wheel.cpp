#include "common/timer_wheel.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace webim {

namespace {

void initList(TimerNode& sentinel) noexcept { sentinel.prev = sentinel.next = &sentinel; }

void unlink(TimerNode& node) noexcept {
  node.prev->next = node.next;
  node.next->prev = node.prev;
  node.prev = node.next = nullptr;
}

void append(TimerNode& sentinel, TimerNode& node) noexcept {
  node.prev = sentinel.prev;
  node.next = &sentinel;
  sentinel.prev->next = &node;
  sentinel.prev = &node;
}

// Stable merge sort by deadline of a null-terminated list linked through `next` only.
TimerNode* sortByDeadline(TimerNode* head) noexcept {
  if (head == nullptr || head->next == nullptr) return head;
  TimerNode* slow = head;
  for (TimerNode* fast = head->next; fast != nullptr && fast->next != nullptr; fast = fast->next->next) {
    slow = slow->next;
  }
  TimerNode* right = slow->next;
  slow->next = nullptr;
  TimerNode* a = sortByDeadline(head);
  TimerNode* b = sortByDeadline(right);
  TimerNode merged;
  TimerNode* tail = &merged;
  while (a != nullptr && b != nullptr) {
    TimerNode*& pick = (b->deadlineMs < a->deadlineMs) ? b : a;  // ties take `a`: stable
    tail->next = pick;
    tail = pick;
    pick = pick->next;
  }
  tail->next = (a != nullptr) ? a : b;
  return merged.next;
}

void sortList(TimerNode& sentinel) noexcept {
  if (sentinel.next == &sentinel) return;
  sentinel.prev->next = nullptr;
  TimerNode* node = sortByDeadline(sentinel.next);
  initList(sentinel);
  while (node != nullptr) {
    TimerNode* next = node->next;
    append(sentinel, *node);
    node = next;
  }
}

}  // namespace

TimerWheel::TimerWheel(uint64_t nowMs, uint32_t tickMs, size_t slotCount)
    : slotCount_(slotCount), tickMs_(tickMs), currentTick_(tickMs == 0 ? 0 : nowMs / tickMs), nowMs_(nowMs) {
  if (tickMs == 0) throw std::invalid_argument("timer wheel: tickMs must be positive");
  if (slotCount == 0) throw std::invalid_argument("timer wheel: slotCount must be positive");
  slots_ = std::make_unique<TimerNode[]>(slotCount_);
  for (size_t i = 0; i < slotCount_; ++i) initList(slots_[i]);
}

TimerWheel::~TimerWheel() {
  for (size_t i = 0; i < slotCount_; ++i) {
    TimerNode& slot = slots_[i];
    while (slot.next != &slot) unlink(*slot.next);
  }
}

void TimerWheel::schedule(TimerNode& node, uint64_t deadlineMs) noexcept {
  cancel(node);
  node.deadlineMs = deadlineMs;
  // A deadline before the current tick goes into the current tick's slot, which the next advance()
  // scans first; otherwise it would wait for the wheel to come round.
  append(slotFor(std::max(deadlineMs / tickMs_, currentTick_)), node);
  ++size_;
}

void TimerWheel::cancel(TimerNode& node) noexcept {
  if (!node.scheduled()) return;
  unlink(node);
  --size_;
}

void TimerWheel::moveDueNodes(TimerNode& slot, uint64_t nowMs, TimerNode& due) noexcept {
  TimerNode* node = slot.next;
  while (node != &slot) {
    TimerNode* next = node->next;
    if (node->deadlineMs <= nowMs) {
      unlink(*node);
      append(due, *node);
    }
    node = next;
  }
}

void TimerWheel::advance(uint64_t nowMs) {
  const uint64_t nowTick = std::max(nowMs / tickMs_, currentTick_);
  // Every node's deadline tick is >= currentTick_ (or it sits in currentTick_'s slot), so the slots
  // of ticks currentTick_..nowTick hold everything that can be due; one rotation covers them all.
  const uint64_t span = nowTick - currentTick_ >= slotCount_ ? slotCount_ : nowTick - currentTick_ + 1;
  TimerNode due;
  initList(due);
  for (uint64_t k = 0; k < span; ++k) moveDueNodes(slotFor(currentTick_ + k), nowMs, due);
  currentTick_ = nowTick;
  nowMs_ = std::max(nowMs_, nowMs);
  sortList(due);

  // `due` lives on this stack frame: if a callback throws, hand the remaining nodes back to the
  // wheel (they fire on the next advance) rather than leave them pointing at a dead sentinel.
  struct Restore {
    TimerWheel& wheel;
    TimerNode& due;
    ~Restore() {
      while (due.next != &due) {
        TimerNode& node = *due.next;
        unlink(node);
        append(wheel.slotFor(wheel.currentTick_), node);
      }
    }
  } restore{*this, due};

  while (due.next != &due) {
    TimerNode& node = *due.next;
    unlink(node);
    --size_;
    if (node.fire != nullptr) node.fire(&node);
  }
}

size_t TimerWheel::size() const noexcept { return size_; }

std::optional<uint64_t> TimerWheel::nextDueMs() const {
  if (size_ == 0) return std::nullopt;
  // Nodes in the slot scanned at step k have deadline ticks >= currentTick_ + k (except past-due
  // nodes, all in the first slot), so once the minimum seen is due by the scanned tick, no later
  // slot can hold anything earlier.
  uint64_t earliest = std::numeric_limits<uint64_t>::max();
  for (size_t k = 0; k < slotCount_; ++k) {
    const uint64_t tick = currentTick_ + k;
    const TimerNode& slot = slots_[tick % slotCount_];
    for (const TimerNode* node = slot.next; node != &slot; node = node->next) {
      earliest = std::min(earliest, node->deadlineMs);
    }
    if (earliest / tickMs_ <= tick) break;
  }
  if (earliest <= nowMs_) return earliest;
  const uint64_t rem = earliest % tickMs_;
  if (rem == 0) return earliest;
  const uint64_t up = tickMs_ - rem;
  if (earliest > std::numeric_limits<uint64_t>::max() - up) return earliest;  // no boundary left
  return earliest + up;
}

}  // namespace webim
