// Presence settling after a hub start (presence_settling.h).
#include "broadcast/presence_settling.h"

namespace webim::hub {

void PresenceSettling::seen(const std::string& frontend, uint64_t nowMs) {
  if (settled_ || nowMs >= startMs_ + windowMs_ || done_.count(frontend) != 0) return;
  waiting_.insert(frontend);
}

void PresenceSettling::synced(const std::string& frontend) {
  if (settled_) return;
  waiting_.erase(frontend);
  done_.insert(frontend);
}

bool PresenceSettling::settling(uint64_t nowMs) {
  if (settled_) return false;
  const bool windowOver = nowMs >= startMs_ + windowMs_;
  if (nowMs >= startMs_ + maxMs_ || (windowOver && waiting_.empty())) {
    settled_ = true;
    waiting_.clear();
    done_.clear();
    return false;
  }
  return true;
}

}  // namespace webim::hub
