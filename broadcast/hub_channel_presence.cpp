// Channel presence at the hub (docs/architecture.md "Channel presence"): the frontends' reports
// and the presence queries are taken as they arrive (receive()), outside the batch: nothing is
// stored, and a query reads only memory. Join/leave events go out between batches (presenceStep).
#include <spdlog/spdlog.h>

#include "broadcast/hub.h"
#include "common/json_writer.h"

namespace webim::hub {

uint64_t Hub::steadyMs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

// True when `r` was a presence request, now taken (a report) or answered (a query).
bool Hub::takePresence(Request& r) {
  if (auto* update = std::get_if<PresenceUpdateRequest>(&r.request)) {
    ++metrics_.presenceReports;
    PresenceUpdateRequest taken = std::move(*update);
    // Its users count toward the batch's attach budget (receive()): a storm of reports after a hub
    // or frontend restart is spread over batches like one of attaches.
    for (const PresenceUpdateRequest::Change& change : taken.channels) {
      attachUsersInBatch_ += change.join.size() + change.leave.size();
    }
    // Admitted like an attach: a report can be the first a restarted hub hears from a frontend.
    if (!admitFrontend(r, taken.frontendId, taken.boot)) return true;  // a second process with that id
    const uint64_t now = steadyMs();
    for (const PresenceUpdateRequest::Change& change : taken.channels) {
      if (!presenceNamespaces_.enabled(change.channel)) continue;  // the frontend's config differs: nothing kept
      if (!presence_.update(taken.frontendId, taken.boot, change.channel, change.connections, change.join,
                            change.leave, now)) {
        spdlog::warn("channel presence: 65,535 frontend processes known at once; report of {} dropped",
                     taken.frontendId);
        break;
      }
    }
    return true;
  }
  if (const auto* query = std::get_if<PresenceQueryRequest>(&r.request)) {
    answerPresence(r, *query);
    return true;
  }
  return false;
}

void Hub::answerPresence(Request& r, const PresenceQueryRequest& query) {
  if (!presenceNamespaces_.enabled(query.channel)) {
    const std::string ns = query.channel.substr(0, query.channel.find(':'));
    return replyError(r, "bad_request", "channel presence is off for the namespace " + ns + " (presence_namespaces)");
  }
  const ChannelPresenceTable::Stats stats = presence_.stats(query.channel);
  ChannelPresenceTable::Page page;
  if (!query.statsOnly) page = presence_.list(query.channel, query.after, query.limit);
  if (r.form == ReplyForm::Frontend) {
    wire::HubReply reply;
    wire::ChannelPresenceInfo* info = reply.mutable_channel_presence();
    info->set_connections(stats.connections);
    info->set_users(stats.users);
    for (std::string& user : page.users) info->add_members(std::move(user));
    info->set_more(page.more);
    return replyFrontend(r, reply);
  }
  std::string json;
  JsonWriter writer(json);
  writer.beginObject().key("ok").boolean(true).key("ch").string(query.channel);
  if (query.statsOnly) {
    writer.key("connections").uinteger(stats.connections).key("users").uinteger(stats.users);
  } else {
    writer.key("users").beginArray();
    for (const std::string& user : page.users) writer.string(user);
    writer.endArray().key("more").boolean(page.more);
  }
  writer.endObject();
  replyApp(r, json);
}

// Between batches: the graces that ended and the channels' coalesced events.
void Hub::presenceStep() {
  const uint64_t now = steadyMs();
  if (now < presence_.nextDeadlineMs()) return;
  // A forgotten frontend's reports, a slice at a time (~kPresenceForgetMembers members: a few ms).
  if (presence_.forgetting()) presence_.forgetStep(kPresenceForgetMembers, now);
  // Bounded per loop iteration (a crashed frontend's users end their graces together): the rest next time.
  for (const ChannelPresenceTable::Event& event : presence_.takeEvents(now, kPresenceDeadlinesPerStep)) {
    publisher_.publishPresence(event.channel, event.join, event.leave, nowMs());
    ++metrics_.presenceEvents;
  }
}

}  // namespace webim::hub
