// Which frontends hold which users' inboxes (docs/architecture.md, "Inboxes are routed, not
// subscribed"): a per-user ZeroMQ topic would cost ~120-200 B per connection on each side, so
// frontends attach the users they hold and the hub publishes an inbox message once per holding
// frontend on that frontend's own topic. Pure bookkeeping; the hub forgets a frontend's users
// when its heartbeats stop. The same map later gives presence.
//
// Every connected user has an entry, so it is kept small (20-25 B per user, UserTable): frontend
// ids are interned as 16-bit indices (there are tens to hundreds of frontends), a user's holders
// sit beside the id in the table's slot, and there is no frontend -> users map (forgetting a
// frontend, which is rare, scans the users instead of every user name being stored twice).
//
// Forgetting is done in slices (forgetStep, between the hub's batches): a walk of a million users
// took 45-150 ms, a stall of every publish behind it. forgetFrontend() retires the frontend's index
// at once (routes skip it; the frontend's next process gets a new index); the walk then removes it
// from its users a slice at a time and frees it with its last user.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "broadcast/user_table.h"

namespace webim::hub {

class InboxRouter {
 public:
  // Frontend indices are 16 bits; this many frontends holding users at once is the most routed.
  static constexpr size_t kMaxFrontends = 65535;

  // False, attaching nothing, when `frontend` is new and kMaxFrontends others already hold users.
  bool attach(const std::string& frontend, const std::string& user);
  void detach(const std::string& frontend, const std::string& user);
  // Forgets every user the frontend held (it restarted or its heartbeats stopped): nothing is
  // routed to them from now on; their entries go with forgetStep().
  void forgetFrontend(const std::string& frontend);
  // Whether forgotten frontends still have users to walk; one slice of the walk (up to `slots`
  // table slots); all of it (tests).
  bool forgetting() const noexcept { return retiring_ != 0; }
  void forgetStep(size_t slots);
  void finishForgetting() {
    while (forgetting()) forgetStep(SIZE_MAX);
  }
  // Calls f(std::string_view frontendId) once per frontend holding `user`'s inbox (never when
  // nobody does), in no particular order. f must not change the router.
  template <class F>
  void forEachHolder(const std::string& user, F&& f) const;
  // Users with an entry (while forgetting(), also those only forgotten frontends held).
  size_t users() const noexcept { return holders_.size(); }
  // Heap bytes of the user table (UserTable::memoryBytes), for the memory figures.
  size_t tableBytes() const noexcept { return holders_.memoryBytes(); }
  // Frontends holding at least one user (one is forgotten with its last user).
  size_t frontends() const noexcept { return frontendIndex_.size(); }
  // Presence: the users whose last holder went (detach, or a forgotten frontend's walk) since the
  // last call, for their last seen. The caller takes them after each detach and forget slice.
  std::vector<std::string> takeOffline() { return std::exchange(offline_, {}); }

 private:
  // A user's holding frontends: one nearly always, 2-3 with tabs on several frontends. The first
  // kInline indices live in the table's slot; the rest (count > kInline) in overflow_.
  static constexpr uint16_t kInline = Holders::kInline;

  std::optional<uint16_t> intern(const std::string& frontend);
  // One user fewer for the frontend; its index is freed for reuse with its last user.
  void dropUser(uint16_t index);
  void freeIndex(uint16_t index);
  bool retired(uint16_t index) const noexcept { return retired_[index] != 0; }
  bool holds(const std::string& user, const Holders& holders, uint16_t index) const;
  // False when `index` was not among the holders.
  bool removeHolder(const std::string& user, Holders& holders, uint16_t index);

  UserTable holders_;  // user -> frontend indices
  std::unordered_map<std::string, std::vector<uint16_t>> overflow_;  // user -> holders past kInline
  std::vector<std::string> frontendNames_;  // index -> frontend id ("" when free)
  std::vector<size_t> frontendUsers_;  // index -> users it holds
  std::vector<uint16_t> freeIndices_;
  std::unordered_map<std::string, uint16_t> frontendIndex_;  // frontend id -> index (not retired ones)
  std::vector<uint8_t> retired_;  // index -> forgotten, users left to walk
  size_t retiring_ = 0;           // indices retired with users left
  size_t cursor_ = 0;             // the walk's position (UserTable::visitSlice)
  std::string scratch_;           // the visited user's id (removeHolder looks overflow_ up by it)
  std::vector<std::string> offline_;  // users left without a holder (takeOffline)
};

template <class F>
void InboxRouter::forEachHolder(const std::string& user, F&& f) const {
  const Holders* found = holders_.find(user);
  if (found == nullptr) return;
  const Holders& holders = *found;
  for (uint16_t i = 0; i < std::min(holders.count, kInline); ++i) {
    if (!retired(holders.first[i])) f(std::string_view(frontendNames_[holders.first[i]]));
  }
  if (holders.count <= kInline) return;
  for (uint16_t index : overflow_.at(user)) {
    if (!retired(index)) f(std::string_view(frontendNames_[index]));
  }
}

}  // namespace webim::hub
