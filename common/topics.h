// ZeroMQ topics on the hub's publish socket. A channel's topic is its name followed by '\0', so a
// subscription to "room:1" never matches "room:10" (ZeroMQ matches topics by prefix). Control
// topics start with '!', which channel names never contain.
#pragma once

#include <string>
#include <string_view>

namespace webim {

// Kick{user, code, reason}: every frontend closes that user's connections.
inline constexpr std::string_view kKickControl = "!kick";
// A frontend's own topic, "!fe:<id>": its routed inbox messages and the hub's boot syncs.
inline constexpr std::string_view kFrontendTopicPrefix = "!fe:";
// Inbox channels are routed through the frontends' own topics instead of one topic per user.
inline constexpr std::string_view kInboxPrefix = "user:";

inline std::string frontendControl(std::string_view frontendId) {
  return std::string(kFrontendTopicPrefix) + std::string(frontendId);
}
inline bool isInboxChannel(std::string_view channel) noexcept { return channel.substr(0, kInboxPrefix.size()) == kInboxPrefix; }

inline std::string topicFor(std::string_view name) {
  std::string topic(name);
  topic.push_back('\0');
  return topic;
}

inline bool isControlTopic(std::string_view topic) noexcept { return !topic.empty() && topic[0] == '!'; }

}  // namespace webim
