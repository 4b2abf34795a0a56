// User presence, the frontend's side (docs/architecture.md "Presence"): a user is held at the hub
// owning its inbox from its first authenticated connection on this frontend (a WebSocket after
// `auth`, an open event stream or long-poll of a session) to its last one, and not only while its
// inbox is subscribed; the hub's holders of a user are then its presence. The changes go out with
// the inbox changes (InboxAttacher: net per loop iteration, chunked, retried), so a user whose
// connection drops and comes back within one loop iteration produces nothing at the hub.
#include "common/topics.h"
#include "frontend/connection.h"
#include "frontend/frontend.h"

namespace webim {

size_t Frontend::shardOfUser(std::string_view user) {
  std::string inbox(kInboxPrefix);
  inbox.append(user);
  return config_.slotMap->shardOf(inbox);
}

void Frontend::userPresenceChanged(std::string_view user) {
  std::string inbox(kInboxPrefix);
  inbox.append(user);
  inboxChanged(inbox);
}

bool Frontend::holdsUser(std::string_view user) {
  if (userCounts_.count(user) > 0) return true;
  std::string inbox(kInboxPrefix);
  inbox.append(user);
  return stream_.find(inbox) != nullptr;
}

// After a hub's new boot id: every authenticated user of that shard is attached again (the inbox
// subscribers were noted by onHubBoot), and the attaches of the next flush end with `synced`.
void Frontend::reattachPresence(size_t shard) {
  if (presenceSyncDue_.size() != hubs_.size()) presenceSyncDue_.assign(hubs_.size(), 0);
  for (Connection* connection : sockets_.all()) {
    if (connection->presenceCounted() && shardOfUser(connection->user()) == shard) {
      userPresenceChanged(connection->user());
    }
  }
  presenceSyncDue_[shard] = 1;
  uv_idle_start(&flushIdle_, [](uv_idle_t*) {});  // flushed at the end of this iteration, users or not
}

// The last attach chunk of each shard due marks the re-attach complete; a shard with none gets an
// empty attach that says only that.
void Frontend::markPresenceSynced(std::vector<InboxAttacher::Chunk>& chunks) {
  for (size_t shard = 0; shard < presenceSyncDue_.size(); ++shard) {
    if (presenceSyncDue_[shard] == 0) continue;
    presenceSyncDue_[shard] = 0;
    InboxAttacher::Chunk* last = nullptr;
    for (InboxAttacher::Chunk& chunk : chunks) {
      if (chunk.shard == shard && chunk.attach) last = &chunk;
    }
    if (last != nullptr) {
      last->synced = true;
    } else {
      chunks.push_back(InboxAttacher::Chunk{shard, true, {}, true});
    }
  }
}

}  // namespace webim
