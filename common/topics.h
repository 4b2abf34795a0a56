// ZeroMQ topics on the hub's publish socket. A channel's topic is its name followed by '\0', so a
// subscription to "room:1" never matches "room:10" (ZeroMQ matches topics by prefix). Control
// topics start with '!', which channel names never contain.
#pragma once

#include <string>
#include <string_view>

namespace webim {

// Kick{user, code, reason}: every frontend closes that user's connections.
inline constexpr std::string_view kKickControl = "!kick";

inline std::string topicFor(std::string_view name) {
  std::string topic(name);
  topic.push_back('\0');
  return topic;
}

inline bool isControlTopic(std::string_view topic) noexcept { return !topic.empty() && topic[0] == '!'; }

}  // namespace webim
