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

void addOnce(std::vector<std::string>& list, std::string_view ns) {
  if (std::find(list.begin(), list.end(), ns) == list.end()) list.emplace_back(ns);
}

}  // namespace

std::string DeliveryModes::parse(const std::vector<std::string>& fastNamespaces) {
  std::vector<std::string> parsed;
  for (const std::string& ns : fastNamespaces) {
    if (!validNamespace(ns)) {
      return "'" + ns + "' is not a namespace (the part of a channel name before ':', e.g. room: [A-Za-z0-9_.-]{1,64})";
    }
    addOnce(parsed, ns);
  }
  fast_ = std::move(parsed);
  generational_ = fast_;
  return {};
}

void DeliveryModes::settle(bool earlyPublish, const std::vector<std::string>& recorded) {
  if (!earlyPublish) fast_.clear();  // nothing is published before its sync: durable in effect
  generational_ = fast_;
  for (const std::string& ns : recorded) {
    if (validNamespace(ns)) addOnce(generational_, ns);
  }
}

bool DeliveryModes::matches(const std::vector<std::string>& namespaces, std::string_view channel) {
  if (namespaces.empty()) return false;
  const size_t colon = channel.find(':');
  if (colon == std::string_view::npos) return false;
  const std::string_view ns = channel.substr(0, colon);
  return std::any_of(namespaces.begin(), namespaces.end(), [&](const std::string& f) { return f == ns; });
}

std::string joinNamespaces(const std::vector<std::string>& namespaces) {
  std::string out;
  for (const std::string& ns : namespaces) {
    if (!out.empty()) out.push_back(',');
    out += ns;
  }
  return out;
}

std::vector<std::string> splitNamespaces(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view ns = text.substr(0, comma);
    if (!ns.empty()) addOnce(out, ns);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace webim::hub
