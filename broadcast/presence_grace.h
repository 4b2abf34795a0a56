// The watchlist's grace period (docs/architecture.md "Watchlist"), pure: a watched user who goes
// offline is told only once `graceMs` has passed without them coming back; one who comes back
// within it produces no event at all (a reload, a network switch). Coming online is told at once.
// Only users somebody watches enter it, and each leaves within graceMs: bounded by the users who
// went offline in the last graceMs, never per offline user for longer.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

namespace webim::hub {

class PresenceGrace {
 public:
  explicit PresenceGrace(uint64_t graceMs) noexcept : graceMs_(graceMs) {}

  struct Offline {
    std::string user;
    int64_t sinceMs = 0;  // when they went: their last seen
  };

  // `user` (watched) lost their last connection at nowMs.
  void wentOffline(const std::string& user, uint64_t nowMs, int64_t wallMs);
  // `user` is online again: true when this is news (tell the watchers), false when it ends a grace
  // period (nothing to tell).
  bool cameOnline(const std::string& user);
  // The users whose grace period ended by nowMs, still offline: tell their watchers.
  std::vector<Offline> due(uint64_t nowMs);
  size_t pending() const noexcept { return pending_.size(); }

 private:
  struct Entry {
    uint64_t deadlineMs;
    int64_t wallMs;
  };
  uint64_t graceMs_;
  std::unordered_map<std::string, Entry> pending_;
  std::deque<std::pair<uint64_t, std::string>> order_;  // (deadline, user), deadlines ascending
};

}  // namespace webim::hub
