#include "frontend/shard_asks.h"

#include <unordered_map>

namespace webim {

ShardAsks::ShardAsks(size_t n, const std::function<HubLink&(size_t)>& hubOf) {
  std::unordered_map<HubLink*, size_t> at;
  for (size_t i = 0; i < n; ++i) {
    HubLink* hub = &hubOf(i);
    auto [it, added] = at.emplace(hub, shards_.size());
    if (added) shards_.emplace_back().hub = hub;
    shards_[it->second].items.push_back(i);
  }
}

void ShardAsks::send(PendingOp*& owner, uint64_t deadlineMs) {
  for (Shard& s : shards_) s.call = std::make_unique<HubCall>(*s.hub, owner, s.request, deadlineMs);
}

}  // namespace webim
