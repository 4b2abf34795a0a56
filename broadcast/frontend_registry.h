// Which process speaks for each frontend id. Every frontend names itself (`--id`, the key of its
// routed inboxes, docs/architecture.md "Routed inboxes") and draws a random boot id when it starts;
// hello, attach and detach carry both. One id belongs to one boot at a time:
//  - an id heard for the first time, or again from the same boot, is admitted;
//  - a new boot for a known id is a restart of that instance when the old boot's connection is gone
//    (or it went silent past the frontend timeout): it replaces the old one at once, and the caller
//    forgets the old boot's inboxes;
//  - otherwise two live processes share one id: the newcomer is refused (Conflict) until the old
//    one goes, so inbox routing stays with the first.
// Pure bookkeeping: whether a connection is still open is asked of the caller (the hub probes the
// old connection's ZeroMQ routing id).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace webim::hub {

class FrontendRegistry {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Admission {
    New,       // first heard of (or again after it was forgotten)
    Known,     // the same boot as before
    Replaced,  // a new boot of an instance whose old boot is gone: forget the old boot's inboxes
    Conflict,  // another live process holds this id: refuse
  };
  struct Peer {
    uint64_t boot = 0;
    std::string routingId;  // the connection that last spoke for it
    Clock::time_point lastSeen{};
  };

  explicit FrontendRegistry(Clock::duration timeout) : timeout_(timeout) {}

  // `connected(routingId)`: whether that connection is still open (asked only for a boot change).
  Admission admit(std::string_view id, uint64_t boot, std::string_view routingId, Clock::time_point now,
                  const std::function<bool(std::string_view)>& connected);
  // Whether `boot` is the admitted process for `id` (detaches of anyone else are ignored).
  bool owns(std::string_view id, uint64_t boot) const;
  const Peer* find(std::string_view id) const;
  // Forgets ids silent for longer than the timeout; returns them (the caller forgets their inboxes).
  std::vector<std::string> expire(Clock::time_point now);
  size_t size() const noexcept { return peers_.size(); }

 private:
  Clock::duration timeout_;
  std::unordered_map<std::string, Peer> peers_;
};

const char* toString(FrontendRegistry::Admission admission);

}  // namespace webim::hub
