#include "broadcast/read_cursors.h"

#include "common/json_writer.h"

namespace webim::hub {

std::string encodeReadOk(uint64_t cursor) {
  std::string out;
  JsonWriter(out).beginObject().key("ok").boolean(true).key("seq").uinteger(cursor).endObject();
  return out;
}

std::string encodeUnreadOk(const std::vector<std::string>& channels, const std::vector<uint64_t>& counts) {
  std::string out;
  JsonWriter w(out);
  w.beginObject().key("ok").boolean(true).key("unread").beginObject();
  for (size_t i = 0; i < channels.size() && i < counts.size(); ++i) w.key(channels[i]).uinteger(counts[i]);
  w.endObject().endObject();
  return out;
}

}  // namespace webim::hub
