// Whether a hub that started lately may still be missing users in its inbox router
// (docs/architecture.md "Presence", settling). A restarted hub knows nobody until the frontends
// re-attach their users; until then a user it does not know is "settling", not offline.
//
// The rule: the hub settles once (a) `windowMs` has passed since its start (frontends send a hello
// every heartbeat_ms, 2 s by default: by then every running frontend has been seen) and (b) every
// frontend seen within that window has said it sent all its users (Attach.synced) -- or, whatever
// happens, once `maxMs` has passed (a frontend that never finishes cannot keep presence settling
// forever). Frontends first seen after the window are new ones: they are not waited for. Once
// settled, the hub stays settled. Pure: the caller passes the time.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_set>

namespace webim::hub {

class PresenceSettling {
 public:
  PresenceSettling(uint64_t startMs, uint64_t windowMs, uint64_t maxMs) noexcept
      : startMs_(startMs), windowMs_(windowMs), maxMs_(maxMs) {}

  // A hello or an attach of `frontend` reached the hub.
  void seen(const std::string& frontend, uint64_t nowMs);
  // `frontend` has sent every user it holds (Attach.synced).
  void synced(const std::string& frontend);
  // Whether a user unknown to the router may still be re-attached (answer "settling").
  bool settling(uint64_t nowMs);
  // Frontends seen within the window that have not said synced yet.
  size_t waitingFor() const noexcept { return waiting_.size(); }

 private:
  uint64_t startMs_;
  uint64_t windowMs_;
  uint64_t maxMs_;
  bool settled_ = false;
  std::unordered_set<std::string> waiting_;  // seen in the window, not synced
  std::unordered_set<std::string> done_;     // synced (a later hello does not make them wait again)
};

}  // namespace webim::hub
