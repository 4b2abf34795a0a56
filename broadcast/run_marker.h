// Whether the hub's last run ended cleanly, as it tells the store (docs/durability.md "Delivery
// modes"). Channels of generational namespaces (delivery_mode.h: every namespace ever delivered
// fast) take their epoch from a generation: a random number kept across clean restarts and
// replaced after an unclean one (or a failed sync after fast publishes), so those channels start a
// new epoch then, and a seq a subscriber saw before a crash lost it is never reused in the same
// epoch. The marker is one store value per hub: "running G NAMESPACES" while it runs, "clean G
// NAMESPACES" once it stopped with everything synced; NAMESPACES (comma-separated, maybe empty)
// are the generational namespaces, which every later run keeps. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace webim::hub {

struct RunStart {
  uint64_t generation = 0;  // the generational epochs' generation for this run
  bool unclean = false;     // the last run did not stop cleanly: generational channels start new epochs
  std::vector<std::string> namespaces;  // the generational namespaces recorded
};

// The store's marker name for the hub of `shard` ("" unsharded).
std::string runMarkerName(std::string_view shard);
// "running G a,b" / "clean G a,b" (G in 16 hex digits).
std::string runMarker(bool clean, uint64_t generation, const std::vector<std::string>& namespaces);
// The run that starts after `stored` (nullopt: a store no hub has run on with a marker). `fresh` is
// a new random generation (never 0): taken after an unclean stop, a first run, or a marker that
// cannot be read (which counts as unclean).
RunStart startRun(const std::optional<std::string>& stored, uint64_t fresh);

}  // namespace webim::hub
