// User presence at the hub (docs/architecture.md "Presence"): a user is online while some frontend
// holds them in the inbox router (frontends attach a user from its first authenticated connection
// to its last). The `online` query is answered from there, after its batch (so attaches staged in
// the same batch count); right after a start, a user nobody holds is "settling" (presence_settling.h).
#include "broadcast/hub.h"
#include "common/json_writer.h"
#include "common/presence_status.h"

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
  const uint64_t sinceStart = sinceStartMs();
  for (std::string& user : offline) {
    if (holds(user)) continue;  // came back within the same batch
    if (watchers_.users() != 0) {
      bool watched = false;
      watchers_.forEachHolder(user, [&](std::string_view) { watched = true; });
      if (watched) grace_.wentOffline(user, sinceStart, now);
    }
    sequencer_.stage(PresenceLastSeen{std::move(user), now});
  }
}

bool Hub::holds(const std::string& user) const {
  bool held = false;
  inboxes_.forEachHolder(user, [&](std::string_view) { held = true; });
  return held;
}

// Online users from the router; the others' last seen from the store, in one read (a store that
// cannot be read: unavailable).
// A frontend's OnlineQuery gets an OnlineReply; the app (its ingress, or the HTTP API relayed by a
// frontend) gets {"ok":true,"users":[{"user":"7","online":true},{"user":"9","online":false,
// "last_seen":ms|null} or {...,"settling":true}]}.
void Hub::answer(Request& r, const OnlineRequest& online) {
  if (r.form == ReplyForm::Frontend && r.reqId == 0) return;
  wire::HubReply reply;
  std::string error;
  if (!onlineStates(online.users, *reply.mutable_online()->mutable_users(), error)) {
    return replyError(r, "unavailable", error);
  }
  if (r.form == ReplyForm::Frontend) return replyFrontend(r, reply);
  std::string json;
  JsonWriter writer(json);
  writer.beginObject().key("ok").boolean(true).key("users").beginArray();
  for (const wire::OnlineState& state : reply.online().users()) {
    writer.beginObject().key("user").string(state.user());
    writePresenceStatus(writer, state.online(), state.settling(), state.last_seen_ms());
    writer.endObject();
  }
  writer.endArray().endObject();
  replyApp(r, json);
}

bool Hub::onlineStates(const std::vector<std::string>& users,
                       google::protobuf::RepeatedPtrField<wire::OnlineState>& out, std::string& error) {
  const bool settling = settling_.settling(sinceStartMs());
  std::vector<std::string> offline;
  std::vector<uint8_t> held(users.size(), 0);
  for (size_t i = 0; i < users.size(); ++i) {
    held[i] = holds(users[i]) ? 1 : 0;
    if (held[i] == 0 && !settling) offline.push_back(users[i]);
  }
  std::vector<int64_t> lastSeen;
  try {
    lastSeen = store_.loadLastSeen(offline);
  } catch (const HistoryStoreError& e) {
    error = std::string("store read failed: ") + e.what();
    return false;
  }
  size_t next = 0;  // into lastSeen
  for (size_t i = 0; i < users.size(); ++i) {
    wire::OnlineState* state = out.Add();
    state->set_user(users[i]);
    state->set_online(held[i] != 0);
    if (held[i] != 0) continue;
    if (settling) {
      state->set_settling(true);
    } else {
      state->set_last_seen_ms(lastSeen[next++]);
    }
  }
  return true;
}

}  // namespace webim::hub
