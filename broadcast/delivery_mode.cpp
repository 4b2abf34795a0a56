#include "broadcast/delivery_mode.h"

#include <algorithm>

namespace webim::hub {

namespace {

bool validNamespace(std::string_view ns) {
  if (ns.empty() || ns.size() > 64) return false;
  return std::all_of(ns.begin(), ns.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}

}  // namespace

std::string DeliveryModes::parse(const std::vector<std::string>& fastNamespaces) {
  std::vector<std::string> parsed;
  for (const std::string& ns : fastNamespaces) {
    if (!validNamespace(ns)) {
      return "'" + ns + "' is not a namespace (the part of a channel name before ':', e.g. room: [A-Za-z0-9_.-]{1,64})";
    }
    if (std::find(parsed.begin(), parsed.end(), ns) == parsed.end()) parsed.push_back(ns);
  }
  fast_ = std::move(parsed);
  return {};
}

bool DeliveryModes::fast(std::string_view channel) const {
  if (fast_.empty()) return false;
  const size_t colon = channel.find(':');
  if (colon == std::string_view::npos) return false;
  const std::string_view ns = channel.substr(0, colon);
  return std::any_of(fast_.begin(), fast_.end(), [&](const std::string& f) { return f == ns; });
}

}  // namespace webim::hub
