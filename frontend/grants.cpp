#include "frontend/grants.h"

#include <algorithm>

#include "common/channel_rules.h"

namespace webim {

GrantsRef GrantSets::intern(std::vector<std::string> subscribe, std::vector<std::string> publish,
                            std::vector<std::string> presence) {
  std::erase_if(subscribe, [](const std::string& p) { return !subscribeGrantIsUsed(p); });
  std::erase_if(publish, [](const std::string& p) { return !publishGrantIsUsed(p); });
  std::string key = grantSetKey(subscribe, publish, presence);
  auto it = sets_.find(key);
  if (it != sets_.end()) return GrantsRef(it->second.get());
  if (sets_.size() >= pruneAt_) {  // drop sets no connection uses any more
    std::erase_if(sets_, [](const auto& entry) { return entry.second->holders == 0; });
    pruneAt_ = std::max<size_t>(64, sets_.size() * 2);
  }
  auto grants = std::make_unique<Grants>();
  grants->subscribe = std::move(subscribe);
  grants->publish = std::move(publish);
  grants->presence = std::move(presence);
  GrantsRef ref(grants.get());
  sets_.emplace(std::move(key), std::move(grants));
  return ref;
}

}  // namespace webim
