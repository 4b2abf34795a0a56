#include "broadcast/read_cursors.h"

#include "common/channel_rules.h"
#include "common/json_writer.h"

namespace webim::hub {

std::string encodeReadOk(uint64_t cursor) {
  std::string out;
  JsonWriter(out).beginObject().key("ok").boolean(true).key("seq").uinteger(cursor).endObject();
  return out;
}

namespace {

void writeCounts(JsonWriter& w, std::string_view name, const UnreadRequest& u, const std::vector<uint64_t>& values,
                 bool dmOnly) {
  w.key(name).beginObject();
  for (size_t i = 0; i < u.channels.size() && i < values.size(); ++i) {
    if (dmOnly && dmPeer(u.channels[i], u.user).empty()) continue;
    w.key(u.channels[i]).uinteger(values[i]);
  }
  w.endObject();
}

}  // namespace

std::string dmPeer(const std::string& channel, const std::string& user) { return std::string(dmPeerOf(channel, user)); }

// {"ok":true,"unread":{C:N,...},"read":{C:S,...},"peer_read":{dm channels only}}
std::string encodeUnreadOk(const UnreadRequest& unread) {
  std::string out;
  JsonWriter w(out);
  w.beginObject().key("ok").boolean(true);
  writeCounts(w, "unread", unread, unread.counts, false);
  writeCounts(w, "read", unread, unread.reads, false);
  writeCounts(w, "peer_read", unread, unread.peerReads, true);
  w.endObject();
  return out;
}

}  // namespace webim::hub
