// The `conversations` reply (docs/protocol.md "Conversations"): the page the inbox's hub gave, its
// channels the token grants, with their unread counts. Pure: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/json_writer.h"

namespace webim {

// One page as the frontend answers it, aligned with the channel list given to unreadCounts.
struct ConversationRows {
  std::vector<int64_t> ts;
  std::vector<uint64_t> seqs;
  bool more = false;
};

// {"op":"ok","id":N,"items":[{"ch","ts","seq","unread","read","peer_read"?},...],"more":bool}
// (api: {"ok":true,"items":...,"more":...}). peer_read on dm: channels only.
void writeConversations(JsonWriter& writer, int64_t id, bool api, const std::vector<std::string>& channels,
                        const ConversationRows& rows, const std::vector<uint64_t>& counts,
                        const std::vector<uint64_t>& reads, const std::vector<uint64_t>& peerReads);

}  // namespace webim
