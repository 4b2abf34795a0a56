// Paces the replays of each connection: the recovered messages a `sub` with `since` sends before the
// channel goes live. One replay at a time per connection, each started only once the socket has taken
// what was queued before it (at most kLowWaterBytes left), and the turn passed on only once the replay
// itself has been taken. A batched sub of 256 channels after a reconnect thus replays channel after
// channel at the pace of the socket, instead of holding 256 recovery windows in memory at once and
// tripping the slow-consumer limit (4009) with them. While a connection holds the turn, its live
// messages share the allowance of its own replies (Connection::send), so a replay never makes the
// fan-out behind it look slow.
//
// Keyed by connection; a connection that never replays costs nothing here (its `replaying_` bit is
// clear and no entry exists).
#pragma once

#include <cstddef>
#include <deque>
#include <unordered_map>

#include "frontend/task.h"

namespace webim {

class ReplayPacer;

// A coroutine waiting for its connection's replay turn, or for its connection's queue to drain.
class PaceWait final : public PendingOp {
 public:
  enum class Kind { Turn, Drain };
  // Registers the wait unless it is satisfied now (await_ready).
  PaceWait(ReplayPacer& pacer, const void* connection, Kind kind, size_t queuedBytes, PendingOp*& owner,
           TimerWheel& wheel, uint64_t deadlineMs);
  bool await_ready() const noexcept { return ready_; }
  WaitStatus await_resume() const noexcept { return ready_ ? WaitStatus::Done : status_; }

 private:
  friend class ReplayPacer;
  void detach() noexcept override;

  ReplayPacer& pacer_;
  const void* connection_;
  Kind kind_;
  bool ready_ = false;
};

class ReplayPacer {
 public:
  // A replay starts, and the turn passes on, once at most this much is queued for the socket.
  static constexpr size_t kLowWaterBytes = 64 * 1024;

  // The holder is done: the next waiter gets the turn (its wait completes), else the turn is free.
  // Returns whether the connection still holds a turn (someone else's now).
  bool endTurn(const void* connection);
  // The connection's queue fell to kLowWaterBytes or less: a drain wait completes.
  void drained(const void* connection);
  // The connection is closing: forget it (its waits are cancelled through its own list).
  void forget(const void* connection) { states_.erase(connection); }

 private:
  friend class PaceWait;
  struct State {
    bool held = false;
    std::deque<PaceWait*> turns;
    PaceWait* drain = nullptr;
  };
  std::unordered_map<const void*, State> states_;
};

}  // namespace webim
