// The watchlist at the hub (docs/architecture.md "Watchlist"): which frontends watch each user whose
// inbox this shard owns (a second InboxRouter: a per-user set of frontend indices, 16-byte slots,
// not a set of connections), and their presence changes published to those frontends' own topics:
// coming online at once (unless it ends a grace period: nothing then), going offline once
// presence_grace_ms has passed without a return (PresenceGrace).
#include <spdlog/spdlog.h>

#include "broadcast/hub.h"

namespace webim::hub {

void Hub::stageWatch(Request& r, const WatchRequest& watch) {
  if (watch.unwatch) {
    if (!frontends_.owns(watch.frontendId, watch.boot)) return;
    for (const std::string& user : watch.users) watchers_.detach(watch.frontendId, user);
    watchers_.takeOffline();  // not presence: nobody watches them any more
    return;
  }
  if (!admitFrontend(r, watch.frontendId, watch.boot)) return;
  for (const std::string& user : watch.users) {
    if (!watchers_.attach(watch.frontendId, user)) {
      r.request = RequestError{"unavailable", "too many frontends watch users"};
      return;
    }
  }
}

// The watched users' status now: the frontend tells its connections (and keeps it for later ones).
void Hub::answer(Request& r, const WatchRequest& watch) {
  if (r.reqId == 0) return;
  wire::HubReply reply;
  std::string error;
  if (!onlineStates(watch.users, *reply.mutable_watched()->mutable_users(), error)) {
    return replyError(r, "unavailable", error);
  }
  replyFrontend(r, reply);
}

void Hub::userCameOnline(const std::string& user) {
  // The grace period ends whether or not anybody watches the user now: one begun while they were
  // watched must not report them offline later, to a watcher who came meanwhile.
  const bool news = grace_.pending() == 0 || grace_.cameOnline(user);
  if (watchers_.users() == 0 || !news) return;
  watchers_.forEachHolder(user, [&](std::string_view frontend) { publisher_.publishWatch(frontend, user, true, 0); });
}

void Hub::watchHousekeeping() {
  if (watchers_.forgetting()) {
    watchers_.forgetStep(kForgetSlots);
    watchers_.takeOffline();
  }
  if (grace_.pending() == 0) return;
  for (const PresenceGrace::Offline& gone : grace_.due(sinceStartMs())) {
    watchers_.forEachHolder(gone.user, [&](std::string_view frontend) {
      publisher_.publishWatch(frontend, gone.user, false, gone.sinceMs);
    });
  }
}

}  // namespace webim::hub
