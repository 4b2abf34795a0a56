#include "broadcast/frontend_registry.h"

namespace webim::hub {

FrontendRegistry::Admission FrontendRegistry::admit(std::string_view id, uint64_t boot, std::string_view routingId,
                                                    Clock::time_point now,
                                                    const std::function<bool(std::string_view)>& connected) {
  auto it = peers_.find(std::string(id));
  if (it == peers_.end()) {
    peers_.emplace(std::string(id), Peer{boot, std::string(routingId), now});
    return Admission::New;
  }
  Peer& peer = it->second;
  if (peer.boot == boot) {
    peer.routingId.assign(routingId);  // a reconnect of the same process gets a new connection
    peer.lastSeen = now;
    return Admission::Known;
  }
  const bool silent = now - peer.lastSeen > timeout_;
  if (!silent && connected(peer.routingId)) return Admission::Conflict;
  peer = Peer{boot, std::string(routingId), now};
  return Admission::Replaced;
}

bool FrontendRegistry::owns(std::string_view id, uint64_t boot) const {
  const Peer* peer = find(id);
  return peer != nullptr && peer->boot == boot;
}

const FrontendRegistry::Peer* FrontendRegistry::find(std::string_view id) const {
  auto it = peers_.find(std::string(id));
  return it == peers_.end() ? nullptr : &it->second;
}

std::vector<std::string> FrontendRegistry::expire(Clock::time_point now) {
  std::vector<std::string> gone;
  std::erase_if(peers_, [&](const auto& entry) {
    if (now - entry.second.lastSeen <= timeout_) return false;
    gone.push_back(entry.first);
    return true;
  });
  return gone;
}

const char* toString(FrontendRegistry::Admission admission) {
  switch (admission) {
    case FrontendRegistry::Admission::New:
      return "new";
    case FrontendRegistry::Admission::Known:
      return "known";
    case FrontendRegistry::Admission::Replaced:
      return "replaced";
    case FrontendRegistry::Admission::Conflict:
      return "conflict";
  }
  return "?";
}

}  // namespace webim::hub
