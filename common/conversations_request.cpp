#include "common/conversations_request.h"

namespace webim {

DecodeError decodeConversations(std::span<const JsonMember> members, size_t beforeIndex, const JsonValue* limit,
                                ClientRequest& out) {
  out.limit = kDefaultConversationsLimit;
  if (limit != nullptr && limit->type != JsonType::Null) {
    uint64_t v = 0;
    if (!limit->getUnsigned(v) || v < 1 || v > kMaxConversationsLimit) {
      return {"\"limit\" must be an integer from 1 to 100"};
    }
    out.limit = static_cast<uint32_t>(v);
  }
  if (beforeIndex == kJsonTopLevel || members[beforeIndex].value.type == JsonType::Null) return {};
  if (members[beforeIndex].value.type != JsonType::Object) return {"\"before\" must be an object {\"ts\",\"ch\"}"};
  const JsonValue* ts = nullptr;
  const JsonValue* ch = nullptr;
  for (size_t i = beforeIndex + 1; i < members.size(); ++i) {
    if (members[i].parent != beforeIndex) continue;
    const JsonValue** slot = members[i].key == "ts" ? &ts : members[i].key == "ch" ? &ch : nullptr;
    if (slot == nullptr) continue;
    if (*slot != nullptr) return {"duplicate field in \"before\""};
    *slot = &members[i].value;
  }
  if (ts == nullptr || ts->type != JsonType::Int64) return {"\"before.ts\" must be an integer"};
  if (ch == nullptr || ch->type != JsonType::String) return {"\"before.ch\" must be a string"};
  out.hasBeforeItem = true;
  out.beforeTs = ts->i;
  out.beforeCh = ch->str;
  return {};
}

}  // namespace webim
