#include "frontend/channel_index.h"

#include <algorithm>

namespace webim {

std::pair<Channel*, bool> ChannelIndex::acquire(std::string_view name) {
  auto it = channels_.find(name);
  bool created = false;
  if (it == channels_.end()) {
    auto channel = std::make_unique<Channel>();
    channel->name.assign(name);
    it = channels_.emplace(channel->name, std::move(channel)).first;
    created = true;
  }
  Channel* channel = it->second.get();
  channel->pendingJoins++;
  return {channel, created};
}

bool ChannelIndex::remove(Channel* channel, Connection* subscriber) {
  auto& subs = channel->subscribers;
  auto it = std::find(subs.begin(), subs.end(), subscriber);
  if (it != subs.end()) {
    *it = subs.back();  // order among subscribers does not matter
    subs.pop_back();
  }
  if (!subs.empty() || channel->hasJoiners() || channel->pendingJoins != 0 || channel->filling()) return false;
  channels_.erase(std::string_view(channel->name));
  return true;
}

Channel* ChannelIndex::find(std::string_view name) {
  auto it = channels_.find(name);
  return it == channels_.end() ? nullptr : it->second.get();
}

}  // namespace webim
