// User presence at the hub (docs/architecture.md "Presence"): a user is online while some frontend
// holds them in the inbox router (frontends attach a user from its first authenticated connection
// to its last). The `online` query is answered from there, after its batch (so attaches staged in
// the same batch count); right after a start, a user nobody holds is "settling" (presence_settling.h).
#include "broadcast/hub.h"

namespace webim::hub {

uint64_t Hub::sinceStartMs() const {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_).count());
}

// Nothing per offline user stays in memory: the time goes into the batch being staged, and so into
// the store with it (a hub killed before that batch commits loses those last-seen times).
void Hub::stageLastSeen() {
  std::vector<std::string> offline = inboxes_.takeOffline();
  if (offline.empty()) return;
  const int64_t now = nowMs();
  for (std::string& user : offline) sequencer_.stage(PresenceLastSeen{std::move(user), now});
}

// Online users from the router; the others' last seen from the store, in one read (a store that
// cannot be read: unavailable).
void Hub::answer(Request& r, const OnlineRequest& online) {
  if (r.reqId == 0) return;
  const bool settling = settling_.settling(sinceStartMs());
  std::vector<std::string> offline;
  std::vector<uint8_t> held(online.users.size(), 0);
  for (size_t i = 0; i < online.users.size(); ++i) {
    inboxes_.forEachHolder(online.users[i], [&](std::string_view) { held[i] = 1; });
    if (held[i] == 0 && !settling) offline.push_back(online.users[i]);
  }
  std::vector<int64_t> lastSeen;
  try {
    lastSeen = store_.loadLastSeen(offline);
  } catch (const HistoryStoreError& e) {
    return replyError(r, "unavailable", std::string("store read failed: ") + e.what());
  }
  wire::HubReply reply;
  wire::OnlineReply* out = reply.mutable_online();
  size_t next = 0;  // into lastSeen
  for (size_t i = 0; i < online.users.size(); ++i) {
    wire::OnlineState* state = out->add_users();
    state->set_user(online.users[i]);
    state->set_online(held[i] != 0);
    if (held[i] != 0) continue;
    if (settling) {
      state->set_settling(true);
    } else {
      state->set_last_seen_ms(lastSeen[next++]);
    }
  }
  replyFrontend(r, reply);
}

}  // namespace webim::hub
