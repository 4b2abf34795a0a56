#include "common/presence_status.h"

namespace webim {

void writePresenceStatus(JsonWriter& writer, bool online, bool settling, int64_t lastSeenMs) {
  writer.key("online").boolean(online);
  if (online) return;
  if (settling) {
    writer.key("settling").boolean(true);
    return;
  }
  writer.key("last_seen");
  if (lastSeenMs > 0) {
    writer.integer(lastSeenMs);
  } else {
    writer.null();
  }
}

}  // namespace webim
