// The watchlist's grace period (presence_grace.h).
#include "broadcast/presence_grace.h"

namespace webim::hub {

void PresenceGrace::wentOffline(const std::string& user, uint64_t nowMs, int64_t wallMs) {
  const uint64_t deadline = nowMs + graceMs_;
  pending_[user] = Entry{deadline, wallMs};
  order_.emplace_back(deadline, user);
}

bool PresenceGrace::cameOnline(const std::string& user) { return pending_.erase(user) == 0; }

std::vector<PresenceGrace::Offline> PresenceGrace::due(uint64_t nowMs) {
  std::vector<Offline> out;
  while (!order_.empty() && order_.front().first <= nowMs) {
    auto [deadline, user] = std::move(order_.front());
    order_.pop_front();
    auto it = pending_.find(user);
    // Came back meanwhile (erased), or went again later (a later deadline is queued for it).
    if (it == pending_.end() || it->second.deadlineMs != deadline) continue;
    out.push_back(Offline{std::move(user), it->second.wallMs});
    pending_.erase(it);
  }
  return out;
}

}  // namespace webim::hub
