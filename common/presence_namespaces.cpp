#include "common/presence_namespaces.h"

#include <algorithm>

namespace webim {

std::string PresenceNamespaces::parse(const std::vector<std::string>& namespaces) {
  std::vector<std::string> parsed;
  for (const std::string& ns : namespaces) {
    const bool valid = !ns.empty() && ns.size() <= 64 && std::all_of(ns.begin(), ns.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
             c == '-';
    });
    if (!valid) return "'" + ns + "' is not a namespace (the part of a channel name before ':', e.g. room)";
    if (ns == "user") return "'user' has no channel presence (an inbox has one member)";
    if (std::find(parsed.begin(), parsed.end(), ns) == parsed.end()) parsed.push_back(ns);
  }
  namespaces_ = std::move(parsed);
  return {};
}

bool PresenceNamespaces::enabled(std::string_view channel) const noexcept {
  const size_t colon = channel.find(':');
  if (colon == std::string_view::npos || namespaces_.empty()) return false;
  const std::string_view ns = channel.substr(0, colon);
  return std::any_of(namespaces_.begin(), namespaces_.end(), [ns](const std::string& n) { return n == ns; });
}

}  // namespace webim
