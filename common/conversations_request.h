// The client's `conversations` request (docs/protocol.md "Conversations"): its fields, decoded
// from the reader's members. Pure: no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/client_request.h"
#include "common/json_reader.h"

namespace webim {

inline constexpr uint32_t kDefaultConversationsLimit = 50;
inline constexpr uint32_t kMaxConversationsLimit = 100;

// limit: optional 1..100 (default 50); before: optional {"ts": integer, "ch": string} (the last
// item of the previous page; ch is checked as a channel name by the caller). beforeIndex is the
// index of "before" in `members` (its members follow it), kJsonTopLevel when absent.
DecodeError decodeConversations(std::span<const JsonMember> members, size_t beforeIndex, const JsonValue* limit,
                                ClientRequest& out);

}  // namespace webim
