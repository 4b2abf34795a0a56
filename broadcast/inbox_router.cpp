#include "broadcast/inbox_router.h"

#include <algorithm>

namespace webim::hub {

namespace {
const std::vector<std::string> kNobody;
}  // namespace

void InboxRouter::attach(const std::string& frontend, const std::string& user) {
  if (!held_[frontend].insert(user).second) return;  // already attached
  holders_[user].push_back(frontend);
}

void InboxRouter::detach(const std::string& frontend, const std::string& user) {
  auto held = held_.find(frontend);
  if (held == held_.end() || held->second.erase(user) == 0) return;
  if (held->second.empty()) held_.erase(held);
  auto it = holders_.find(user);
  if (it == holders_.end()) return;
  std::erase(it->second, frontend);
  if (it->second.empty()) holders_.erase(it);
}

void InboxRouter::forgetFrontend(const std::string& frontend) {
  auto held = held_.find(frontend);
  if (held == held_.end()) return;
  for (const std::string& user : held->second) {
    auto it = holders_.find(user);
    if (it == holders_.end()) continue;
    std::erase(it->second, frontend);
    if (it->second.empty()) holders_.erase(it);
  }
  held_.erase(held);
}

const std::vector<std::string>& InboxRouter::holders(const std::string& user) const {
  auto it = holders_.find(user);
  return it == holders_.end() ? kNobody : it->second;
}

}  // namespace webim::hub
