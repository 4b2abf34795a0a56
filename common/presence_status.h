// A user's presence as JSON members, one way for every answer that carries it: the `online` query
// (frontend and hub) and the watchlist's events (docs/protocol.md "Presence", "Watchlist"). Pure.
#pragma once

#include <cstdint>

#include "common/json_writer.h"

namespace webim {

// Writes "online":true; or "online":false and then "settling":true (a restarted hub does not know
// yet) or "last_seen": Unix ms, null when never seen (lastSeenMs <= 0).
void writePresenceStatus(JsonWriter& writer, bool online, bool settling, int64_t lastSeenMs);

}  // namespace webim
