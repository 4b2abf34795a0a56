// Which namespaces have channel presence (presence_namespaces, docs/architecture.md "Channel
// presence"): a channel's namespace is the part of its name before the first ':'. Read by the hub
// (it keeps and answers presence) and the frontends (they report their subscribers there). Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace webim {

class PresenceNamespaces {
 public:
  // An error message, or empty. `user` is refused: an inbox is its own user's alone.
  std::string parse(const std::vector<std::string>& namespaces);
  bool enabled(std::string_view channel) const noexcept;
  bool any() const noexcept { return !namespaces_.empty(); }

 private:
  std::vector<std::string> namespaces_;
};

}  // namespace webim
