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

void Hub::answer(Request& r, const OnlineRequest& online) {
  if (r.reqId == 0) return;
  const bool settling = settling_.settling(sinceStartMs());
  wire::HubReply reply;
  wire::OnlineReply* out = reply.mutable_online();
  for (const std::string& user : online.users) {
    bool held = false;
    inboxes_.forEachHolder(user, [&](std::string_view) { held = true; });
    wire::OnlineState* state = out->add_users();
    state->set_user(user);
    state->set_online(held);
    if (!held && settling) state->set_settling(true);
  }
  replyFrontend(r, reply);
}

}  // namespace webim::hub
