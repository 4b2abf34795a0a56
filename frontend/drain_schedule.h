// When each connection is sent away during a drain (SIGTERM; docs/deploy.md "Draining a
// frontend"). Pure: no I/O, no clock (callers pass the time in), the randomness from a seed.
//
// The n connections open when the drain starts are put in a random order and the i-th is closed
// at start + (i + u_i) * window / n, u_i uniform in [0, 1): one close per window / n on average,
// each jittered within its own slot. So every second of the window holds its share of the
// reconnects (never a burst of them), no client can predict its turn, and the last one goes near
// the window's end. 4 bytes per connection while the drain lasts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace webim {

class DrainSchedule {
 public:
  DrainSchedule() = default;
  // `ids`: the connections to send away (socket fds), in any order. A window of 0 sends every
  // one away at `startMs`.
  DrainSchedule(std::vector<int> ids, uint64_t startMs, uint64_t windowMs, uint64_t seed);

  size_t size() const noexcept { return order_.size(); }
  // Every connection has been handed out.
  bool done() const noexcept { return next_ == order_.size(); }
  // When the i-th connection of the order is due (i < size()); non-decreasing in i, within
  // [startMs, startMs + windowMs).
  uint64_t dueMs(size_t i) const noexcept;
  // The next time something is due; meaningless when done().
  uint64_t nextDueMs() const noexcept { return dueMs(next_); }
  // Hands out the connections due at `nowMs` that were not handed out yet, in order.
  template <typename F>
  void takeDue(uint64_t nowMs, F&& f) {
    while (next_ < order_.size() && dueMs(next_) <= nowMs) f(order_[next_++]);
  }
  // The order itself (tests).
  const std::vector<int>& order() const noexcept { return order_; }

 private:
  std::vector<int> order_;
  uint64_t startMs_ = 0;
  uint64_t windowMs_ = 0;
  uint64_t seed_ = 0;
  size_t next_ = 0;
};

}  // namespace webim
