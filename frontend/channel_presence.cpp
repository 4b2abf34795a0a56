// Channel presence at the frontend (docs/architecture.md "Channel presence"): every live subscriber
// of a channel in presence_namespaces is noted as it comes and goes; at the end of the loop
// iteration the net changes go to the channels' hubs (ChannelPresenceReporter), without a reply;
// after a hub restart (a new boot id, onHubBoot) everything held there goes again.
#include "frontend/channel_index.h"
#include "frontend/connection.h"
#include "frontend/frontend.h"

namespace webim {

void Frontend::subscriberJoined(const Channel& channel, const Connection& subscriber) {
  if (!config_.presence.enabled(channel.name)) return;
  presence_.joined(config_.slotMap->shardOf(channel.name), channel.name, subscriber.user());
  uv_idle_start(&flushIdle_, [](uv_idle_t*) {});  // sent at the end of this iteration
}

void Frontend::subscriberLeft(Channel& channel, Connection& subscriber) {
  if (!config_.presence.enabled(channel.name)) return;
  presence_.left(channel.name, subscriber.user());
  uv_idle_start(&flushIdle_, [](uv_idle_t*) {});
}

// Not acknowledged: a report lost on the way (the hub was gone) is made good by the full resend
// that follows the hub's new boot id.
void Frontend::flushPresenceChanges() {
  if (!presence_.due()) return;
  for (ChannelPresenceReporter::Chunk& chunk : presence_.take()) {
    wire::FrontendRequest request;
    wire::ChannelPresenceUpdate* update = request.mutable_channel_presence_update();
    update->set_frontend_id(config_.id);
    update->set_boot_id(bootId_);
    for (ChannelPresenceReporter::Change& change : chunk.changes) {
      wire::ChannelPresenceChange* out = update->add_channels();
      out->set_channel(std::move(change.channel));
      out->set_connections(change.connections);
      for (std::string& user : change.join) out->add_join(std::move(user));
      for (std::string& user : change.leave) out->add_leave(std::move(user));
    }
    hubs_[chunk.shard]->post(request);
  }
}

}  // namespace webim
