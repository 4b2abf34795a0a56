#include "frontend/conversation_list.h"

#include "common/channel_rules.h"

namespace webim {

void writeConversations(JsonWriter& writer, int64_t id, bool api, const std::vector<std::string>& channels,
                        const ConversationRows& rows, const std::vector<uint64_t>& counts,
                        const std::vector<uint64_t>& reads, const std::vector<uint64_t>& peerReads) {
  writer.beginObject();
  if (api) {
    writer.key("ok").boolean(true);
  } else {
    writer.key("op").string("ok").key("id").integer(id);
  }
  writer.key("items").beginArray();
  for (size_t i = 0; i < channels.size(); ++i) {
    writer.beginObject().key("ch").string(channels[i]).key("ts").integer(rows.ts[i]).key("seq").uinteger(rows.seqs[i]);
    writer.key("unread").uinteger(counts[i]).key("read").uinteger(reads[i]);
    if (channelKind(channels[i]) == ChannelKind::Dm) writer.key("peer_read").uinteger(peerReads[i]);
    writer.endObject();
  }
  writer.endArray().key("more").boolean(rows.more).endObject();
}

}  // namespace webim
