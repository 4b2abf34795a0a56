// The channel presence requests a hub serves (docs/architecture.md "Channel presence"), decoded
// from a frontend's ChannelPresenceUpdate / ChannelPresenceQuery or the app's JSON
// ({"op":"presence"|"presence_stats",...}). Pure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/client_request.h"  // kDefaultPresenceLimit, kMaxPresenceLimit

namespace webim::wire {
class ChannelPresenceUpdate;
class ChannelPresenceQuery;
}  // namespace webim::wire

namespace webim::hub {

// One frontend's report (never answered): per channel its connections now and its user changes.
struct PresenceUpdateRequest {
  struct Change {
    std::string channel;
    uint32_t connections = 0;
    std::vector<std::string> join;
    std::vector<std::string> leave;
  };
  std::string frontendId;
  uint64_t boot = 0;
  std::vector<Change> channels;  // each a valid channel name this shard owns
};

// presence (a page of members) or presence_stats (the counts only).
struct PresenceQueryRequest {
  std::string channel;
  bool statsOnly = false;
  std::string after;
  uint32_t limit = kDefaultPresenceLimit;  // 1..kMaxPresenceLimit
};

}  // namespace webim::hub
