// The app's `conversations` (docs/protocol.md "Conversations", app ingress): one page of a user's
// conversation index kept by this shard (the user's inbox must be its), without unread counts.
#include "broadcast/app_request.h"
#include "common/client_request.h"
#include "common/conversations_request.h"
#include "common/json_writer.h"

namespace webim::hub {

AppDecodeError decodeAppConversations(std::span<const JsonMember> members, AppRequest& out) {
  const JsonValue* user = nullptr;
  const JsonValue* limit = nullptr;
  size_t beforeIndex = kJsonTopLevel;
  for (size_t i = 0; i < members.size(); ++i) {
    if (members[i].parent != kJsonTopLevel) continue;
    if (members[i].key == "user") user = &members[i].value;
    if (members[i].key == "limit") limit = &members[i].value;
    if (members[i].key == "before") beforeIndex = i;
  }
  if (user == nullptr || user->type != JsonType::String || user->str.empty() || user->str.size() > kMaxSenderBytes ||
      user->str.find('\0') != std::string_view::npos) {
    return {"bad_request", "user is required (1.." + std::to_string(kMaxSenderBytes) + " bytes without NUL)"};
  }
  ClientRequest fields;
  if (DecodeError e = decodeConversations(members, beforeIndex, limit, fields); !e.ok()) return {"bad_request", e.message};
  out = AppConversations{ConversationQuery{std::string(user->str), fields.limit, fields.hasBeforeItem, fields.beforeTs,
                                           std::string(fields.beforeCh)}};
  return {};
}

// {"ok":true,"items":[{"ch","ts","seq"},...],"more":bool}
std::string encodeConversationsOk(const ConversationPage& page) {
  std::string out;
  JsonWriter w(out);
  w.beginObject().key("ok").boolean(true).key("items").beginArray();
  for (const ConversationItem& item : page.items) {
    w.beginObject().key("ch").string(item.channel).key("ts").integer(item.tsMs).key("seq").uinteger(item.seq).endObject();
  }
  w.endArray().key("more").boolean(page.more).endObject();
  return out;
}

}  // namespace webim::hub
