// Whether the hub's last run ended cleanly, as it tells the store (docs/durability.md "Delivery
// modes"). Channels of `fast` namespaces (delivery_mode.h) take their epoch from a generation: a
// random number kept across clean restarts and replaced after an unclean one (or a failed sync
// after fast publishes), so every fast channel starts a new epoch then, and a seq a subscriber saw
// before a crash lost it is never reused in the same epoch. The marker is one store value per hub
// ("running G" while it runs, "clean G" once it stopped with everything synced). Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace webim::hub {

struct RunStart {
  uint64_t generation = 0;  // the fast epochs' generation for this run
  bool unclean = false;     // the last run did not stop cleanly: fast channels start new epochs
};

// The store's marker name for the hub of `shard` ("" unsharded).
std::string runMarkerName(std::string_view shard);
// "running G" / "clean G" (G in 16 hex digits).
std::string runMarker(bool clean, uint64_t generation);
// The run that starts after `stored` (nullopt: a store no hub has run on with a marker). `fresh` is
// a new random generation (never 0): taken after an unclean stop, a first run, or a marker that
// cannot be read (which counts as unclean).
RunStart startRun(const std::optional<std::string>& stored, uint64_t fresh);

}  // namespace webim::hub
