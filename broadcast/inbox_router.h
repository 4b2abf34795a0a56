// Which frontends hold which users' inboxes (ARCHITECTURE.md, "Inboxes are routed, not
// subscribed"): a per-user ZeroMQ topic would cost ~120-200 B per connection on each side, so
// frontends attach the users they hold and the hub publishes an inbox message once per holding
// frontend on that frontend's own topic. Pure bookkeeping; the hub forgets a frontend's users
// when its heartbeats stop. The same map later gives presence.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace webim::hub {

class InboxRouter {
 public:
  void attach(const std::string& frontend, const std::string& user);
  void detach(const std::string& frontend, const std::string& user);
  // Forgets every user the frontend held (it restarted or its heartbeats stopped).
  void forgetFrontend(const std::string& frontend);
  // The frontends holding `user`'s inbox (empty when nobody does).
  const std::vector<std::string>& holders(const std::string& user) const;
  size_t users() const noexcept { return holders_.size(); }
  size_t frontends() const noexcept { return held_.size(); }

 private:
  std::unordered_map<std::string, std::vector<std::string>> holders_;  // user -> frontends (few)
  std::unordered_map<std::string, std::unordered_set<std::string>> held_;  // frontend -> users
};

}  // namespace webim::hub
