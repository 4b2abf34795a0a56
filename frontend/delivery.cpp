#include "frontend/delivery.h"

#include <algorithm>

#include "common/epoch.h"
#include "common/ws_frame.h"

namespace webim {

void writeMessage(JsonWriter& writer, const wire::Delivery& m) {
  writer.beginObject()
      .key("op").string("msg")
      .key("ch").string(m.channel())
      .key("epoch").string(formatEpoch(m.epoch()))
      .key("seq").uinteger(m.seq())
      .key("from").string(m.from())
      .key("ts").integer(m.ts_ms());
  // Edit and delete (docs/protocol.md "Edit and delete"): a delete entry and a deleted message have no data.
  if (m.edit_of() != 0) writer.key("edit").uinteger(m.edit_of());
  if (m.delete_of() != 0) writer.key("delete").uinteger(m.delete_of());
  if (m.deleted()) writer.key("deleted").boolean(true);
  if (m.notice_seq() != 0) {  // a DM notice (docs/protocol.md "Conversations"): no data
    writer.key("notice").beginObject().key("ch").string(m.notice_channel()).key("seq").uinteger(m.notice_seq());
    writer.endObject();
  }
  if (!m.data().empty()) writer.key("data").raw(m.data());
  writer.endObject();
}

void writeSignal(JsonWriter& writer, const wire::Delivery& s) {
  writer.beginObject()
      .key("op").string("signal")
      .key("ch").string(s.channel())
      .key("from").string(s.from())
      .key("ts").integer(s.ts_ms())
      .key("data").raw(s.data())
      .endObject();
}

// A channel presence event (docs/protocol.md "Channel presence"): who joined and left since the last.
void writePresenceEvent(JsonWriter& writer, const wire::Delivery& event) {
  writer.beginObject().key("op").string("presence").key("ch").string(event.channel()).key("join").beginArray();
  for (const std::string& user : event.presence_join()) writer.string(user);
  writer.endArray().key("leave").beginArray();
  for (const std::string& user : event.presence_leave()) writer.string(user);
  writer.endArray().key("ts").integer(event.ts_ms()).endObject();
}

std::string encodeMessage(const wire::Delivery& delivery) {
  std::string out;
  JsonWriter writer(out);
  writeMessage(writer, delivery);
  return out;
}

SharedFrame webSocketTextFrame(std::string_view json) {
  auto frame = std::make_shared<std::string>();
  frame->resize(kWsMaxFrameHeader + json.size());
  size_t header = writeFrameHeader(reinterpret_cast<uint8_t*>(frame->data()), WsOpcode::Text, json.size());
  std::copy(json.begin(), json.end(), frame->begin() + static_cast<std::ptrdiff_t>(header));
  frame->resize(header + json.size());
  return frame;
}

SharedFrame eventStreamFrame(std::string_view channel, uint64_t epoch, uint64_t seq, std::string_view json) {
  auto frame = std::make_shared<std::string>();
  frame->reserve(json.size() + channel.size() + 48);
  if (seq != 0) {  // seq 0 is no message (a signal): without an id, Last-Event-ID stays where it was
    frame->append("id: ").append(channel).append(":").append(formatEpoch(epoch)).append(":");
    frame->append(std::to_string(seq)).append("\n");
  }
  // JSON may hold raw line breaks between its tokens, and a line break ends an SSE field: each line
  // goes in a data: line of its own, which the client joins with '\n' into the same JSON.
  for (size_t at = 0;;) {
    const size_t end = json.find_first_of("\r\n", at);
    frame->append("data: ").append(json.substr(at, end - at)).append("\n");
    if (end == std::string_view::npos) break;
    at = end + (json[end] == '\r' && end + 1 < json.size() && json[end + 1] == '\n' ? 2 : 1);
  }
  frame->append("\n");
  return frame;
}

}  // namespace webim
