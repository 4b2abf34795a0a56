#include "broadcast/publisher.h"

#include <spdlog/spdlog.h>

#include "broadcast/zmq_io.h"
#include "common/topics.h"

namespace webim::hub {

void Publisher::publishMessages(const std::vector<StoredMessage>& messages) {
  for (const StoredMessage& m : messages) publishMessage(m);
}

void Publisher::publishMessage(const StoredMessage& m) {
  // Encoded in place in the frame ZeroMQ sends: no Delivery, no copy of the payload.
  zmq::message_t payload(encodedDeliverySize(m));
  encodeDelivery(m, static_cast<char*>(payload.data()));
  publishRouted(m.channel, payload);
  syncsDue_.written(m.channel);
}

void Publisher::publishSignal(const std::string& channel, const std::string& from, const std::string& data,
                              int64_t tsMs) {
  wire::Delivery signal;
  signal.set_channel(channel);
  signal.set_from(from);
  signal.set_ts_ms(tsMs);
  signal.set_data(data);
  signal.set_signal(true);
  publishRouted(channel, signal.SerializeAsString());
}

void Publisher::publishPresence(const std::string& channel, const std::vector<std::string>& join,
                                const std::vector<std::string>& leave, int64_t tsMs) {
  wire::Delivery event;
  event.set_channel(channel);
  event.set_ts_ms(tsMs);
  event.set_signal(true);
  for (const std::string& user : join) event.add_presence_join(user);
  for (const std::string& user : leave) event.add_presence_leave(user);
  publishRouted(channel, event.SerializeAsString());
}

void Publisher::publishKick(const std::string& user, uint32_t code, const std::string& reason, int64_t notBeforeMs) {
  wire::Kick kick;
  kick.set_user(user);
  kick.set_code(code);
  kick.set_reason(reason);
  kick.set_not_before_ms(notBeforeMs);
  publish(kKickControl, kick.SerializeAsString());
}

void Publisher::publishWatch(std::string_view frontendId, const std::string& user, bool online, int64_t lastSeenMs) {
  wire::Delivery delivery;
  wire::WatchEvent* event = delivery.mutable_watch();
  event->set_user(user);
  event->set_online(online);
  event->set_last_seen_ms(lastSeenMs);
  publish(frontendControl(frontendId), delivery.SerializeAsString());
}

void Publisher::publishBoot(std::string_view frontendId, uint64_t bootId) {
  publish(frontendControl(frontendId), bootMarker(bootId));
}

void Publisher::publishSyncs(const std::vector<std::string>& channels, const std::vector<ChannelMeta>& positions) {
  for (size_t i = 0; i < channels.size() && i < positions.size(); ++i) {
    publish(channels[i], syncMarker(channels[i], positions[i]));
  }
}

bool Publisher::publish(std::string_view channel, std::string_view payload, bool whole) {
  zmq::message_t frame(payload.data(), payload.size());
  return publish(channel, frame, whole);
}

bool Publisher::publish(std::string_view channel, zmq::message_t& payload, bool whole) {
  topic_.assign(channel).push_back('\0');
  if (whole) pub_.set(zmq::sockopt::xpub_nodrop, 1);
  // A refused first frame leaves nothing half-sent; the rest of a message the pipes took follows.
  bool sent = sendFrame(pub_, zmq::buffer(topic_), zmq::send_flags::sndmore);
  if (sent) sendFrame(pub_, payload, zmq::send_flags::none);
  if (whole) pub_.set(zmq::sockopt::xpub_nodrop, 0);
  return sent;
}

bool Publisher::publishRouted(const std::string& channel, std::string_view payload, bool whole) {
  zmq::message_t frame(payload.data(), payload.size());
  return publishRouted(channel, frame, whole);
}

bool Publisher::publishRouted(const std::string& channel, zmq::message_t& payload, bool whole) {
  if (!isInboxChannel(channel)) return publish(channel, payload, whole);
  bool all = true;
  inboxes_.forEachHolder(channel.substr(kInboxPrefix.size()), [&](std::string_view frontend) {
    zmq::message_t copy;
    copy.copy(payload);  // shares the bytes (reference-counted) past ZeroMQ's 33-byte inline frames
    all = publish(frontendControl(frontend), copy, whole) && all;
  });
  return all;
}

void Publisher::warnAbandoned(const std::vector<std::string>& channels) {
  for (const std::string& channel : channels) {
    spdlog::warn("channel {}: a frontend's pipe stayed full; its sync was not sent", channel);
  }
}

}  // namespace webim::hub
