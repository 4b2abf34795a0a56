// presence and presence_stats (docs/protocol.md "Channel presence"): who may subscribe a channel
// may ask who is in it. Checked here like a hist (a channel not granted is forbidden, whether it
// exists or not), answered from the memory of the channel's hub.
#include "common/channel_rules.h"
#include "frontend/connection.h"
#include "frontend/frontend.h"

namespace webim {

void Connection::handlePresence(const ClientRequest& request) {
  if (!isValidChannelName(request.ch)) {
    replyError(request, "bad_request", "invalid channel name");
  } else if (!session_.canSubscribe(request.ch)) {
    replyError(request, "forbidden", "no grant for this channel");
    countForbidden();
  } else if (!frontend().config().presence.enabled(request.ch)) {
    replyError(request, "bad_request", "channel presence is off for this namespace (presence_namespaces)");
  } else {
    presenceQuery(request.id, std::string(request.ch), request.op == ClientOp::PresenceStats,
                  std::string(request.afterUser), request.limit);
  }
}

Task Connection::presenceQuery(int64_t id, std::string channel, bool statsOnly, std::string after, uint32_t limit) {
  wire::FrontendRequest request;
  wire::ChannelPresenceQuery* body = request.mutable_channel_presence_query();
  body->set_channel(std::move(channel));
  body->set_stats_only(statsOnly);
  body->set_after(std::move(after));
  body->set_limit(limit);
  HubCall call(frontend().hubFor(body->channel()), pending_, request,
               frontend().nowMs() + frontend().config().hubTimeoutMs);
  HubResult result = co_await call;
  if (result.status == WaitStatus::Cancelled) co_return;
  if (!hubAnswered(id, result, "the hub did not answer in time")) co_return;
  const wire::ChannelPresenceInfo& info = result.reply.channel_presence();
  std::string out;
  JsonWriter writer(out);
  writer.beginObject().key("op").string("ok").key("id").integer(id);
  if (statsOnly) {
    writer.key("connections").uinteger(info.connections()).key("users").uinteger(info.users());
  } else {
    writer.key("users").beginArray();
    for (const std::string& user : info.members()) writer.string(user);
    writer.endArray().key("more").boolean(info.more());
  }
  writer.endObject();
  sendReply(out);
}

}  // namespace webim
