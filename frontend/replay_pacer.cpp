#include "frontend/replay_pacer.h"

#include <algorithm>

namespace webim {

PaceWait::PaceWait(ReplayPacer& pacer, const void* connection, Kind kind, size_t queuedBytes, PendingOp*& owner,
                   TimerWheel& wheel, uint64_t deadlineMs)
    : pacer_(pacer), connection_(connection), kind_(kind) {
  ReplayPacer::State& state = pacer.states_[connection];
  if (kind == Kind::Turn) {
    if (!state.held) {
      state.held = true;
      ready_ = true;
      return;
    }
    state.turns.push_back(this);
  } else {
    if (queuedBytes <= ReplayPacer::kLowWaterBytes) {
      ready_ = true;
      return;
    }
    state.drain = this;  // only the turn's holder waits for a drain
  }
  linkToOwner(owner);
  armDeadline(wheel, deadlineMs);
}

void PaceWait::detach() noexcept {
  auto it = pacer_.states_.find(connection_);
  if (it == pacer_.states_.end()) return;
  ReplayPacer::State& state = it->second;
  if (kind_ == Kind::Turn) {
    state.turns.erase(std::remove(state.turns.begin(), state.turns.end(), this), state.turns.end());
  } else if (state.drain == this) {
    state.drain = nullptr;
  }
}

bool ReplayPacer::endTurn(const void* connection) {
  auto it = states_.find(connection);
  if (it == states_.end()) return false;
  State& state = it->second;
  if (state.turns.empty()) {
    states_.erase(it);
    return false;
  }
  PaceWait* next = state.turns.front();
  state.turns.pop_front();
  // The turn stays held: it is next's now. Completing resumes next's coroutine, which may end its
  // turn at once (nothing to replay): `state` must not be touched after this.
  next->complete(WaitStatus::Done);
  return true;
}

void ReplayPacer::drained(const void* connection) {
  auto it = states_.find(connection);
  if (it == states_.end() || it->second.drain == nullptr) return;
  PaceWait* waiting = it->second.drain;
  it->second.drain = nullptr;
  waiting->complete(WaitStatus::Done);
}

}  // namespace webim
