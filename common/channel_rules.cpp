#include "common/channel_rules.h"

namespace webim {

namespace {

constexpr std::string_view kUserPrefix = "user:";
constexpr std::string_view kDmPrefix = "dm:";
constexpr std::string_view kRoomPrefix = "room:";
constexpr std::string_view kPubPrefix = "pub:";

bool isChannelChar(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == ':' || c == '-';
}

bool anyMatch(std::span<const std::string> patterns, std::string_view ch) noexcept {
  for (const auto& p : patterns) {
    if (matchChannelPattern(p, ch)) return true;
  }
  return false;
}

}  // namespace

std::string_view dmPeerOf(std::string_view ch, std::string_view user) noexcept {
  if (!ch.starts_with(kDmPrefix)) return {};
  const std::string_view rest = ch.substr(kDmPrefix.size());
  const size_t colon = rest.find(':');
  if (colon == std::string_view::npos) return {};
  const std::string_view a = rest.substr(0, colon);
  const std::string_view b = rest.substr(colon + 1);
  if (a.empty() || b.empty() || b.find(':') != std::string_view::npos || !(a < b)) return {};
  if (user == a) return b;
  if (user == b) return a;
  return {};
}

bool isValidChannelName(std::string_view ch) noexcept {
  if (ch.empty() || ch.size() > kMaxChannelBytes) return false;
  for (char c : ch) {
    if (!isChannelChar(c)) return false;
  }
  return true;
}

ChannelKind channelKind(std::string_view ch) noexcept {
  if (ch.starts_with(kUserPrefix)) return ChannelKind::User;
  if (ch.starts_with(kDmPrefix)) return ChannelKind::Dm;
  if (ch.starts_with(kRoomPrefix)) return ChannelKind::Room;
  if (ch.starts_with(kPubPrefix)) return ChannelKind::Pub;
  return ChannelKind::Other;
}

bool canSubscribe(std::string_view user, std::span<const std::string> subscribe, std::string_view ch) noexcept {
  if (user.empty() || !isValidChannelName(ch)) return false;
  switch (channelKind(ch)) {
    case ChannelKind::User: return ch.substr(kUserPrefix.size()) == user;
    case ChannelKind::Dm: return !dmPeerOf(ch, user).empty();
    case ChannelKind::Room:
    case ChannelKind::Pub:
    case ChannelKind::Other: return anyMatch(subscribe, ch);
  }
  return false;
}

// A pattern that starts with a namespace prefix (before any '*') only matches channels of it.
bool subscribeGrantIsUsed(std::string_view pattern) noexcept {
  return !pattern.starts_with(kUserPrefix) && !pattern.starts_with(kDmPrefix);
}

bool publishGrantIsUsed(std::string_view pattern) noexcept {
  return !pattern.starts_with(kDmPrefix) && !pattern.starts_with(kPubPrefix);
}

bool canSubscribe(const TokenClaims& claims, std::string_view ch) noexcept {
  return canSubscribe(claims.sub, claims.subscribe, ch);
}

bool canPublish(std::string_view user, std::span<const std::string> publish, std::string_view ch) noexcept {
  if (user.empty() || !isValidChannelName(ch)) return false;
  switch (channelKind(ch)) {
    case ChannelKind::User: return anyMatch(publish, ch);
    case ChannelKind::Dm: return !dmPeerOf(ch, user).empty();
    case ChannelKind::Pub: return false;
    case ChannelKind::Room:
    case ChannelKind::Other: return anyMatch(publish, ch);
  }
  return false;
}

bool canPublish(const TokenClaims& claims, std::string_view ch) noexcept {
  return canPublish(claims.sub, claims.publish, ch);
}

}  // namespace webim
