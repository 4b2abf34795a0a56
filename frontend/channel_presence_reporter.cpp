#include "frontend/channel_presence_reporter.h"

#include <algorithm>

namespace webim {

namespace {
constexpr size_t kPerIdBytes = 4;  // protobuf tag and length beside each id
}  // namespace

void ChannelPresenceReporter::markDirty(const std::string& name, Channel& channel) {
  if (channel.changed.empty()) dirty_.push_back(name);  // the first change since the last take
}

void ChannelPresenceReporter::joined(size_t shard, std::string_view channel, std::string_view user) {
  auto [it, added] = channels_.try_emplace(std::string(channel));
  Channel& c = it->second;
  c.shard = shard;
  c.connections++;
  User& u = c.users[std::string(user)];
  u.connections++;
  markDirty(it->first, c);
  c.changed.insert(std::string(user));
}

void ChannelPresenceReporter::left(std::string_view channel, std::string_view user) {
  auto it = channels_.find(std::string(channel));
  if (it == channels_.end()) return;
  Channel& c = it->second;
  auto u = c.users.find(std::string(user));
  if (u == c.users.end() || u->second.connections == 0) return;
  c.connections--;
  u->second.connections--;
  markDirty(it->first, c);
  c.changed.insert(std::string(user));
}

void ChannelPresenceReporter::resend(size_t shard) {
  for (auto& [name, c] : channels_) {
    if (c.shard != shard) continue;
    markDirty(name, c);
    c.changed.insert(std::string());  // keeps the channel marked while no user changed: the count goes out
    for (auto& [user, u] : c.users) {
      u.reported = false;  // a leave the new hub never heard of is dropped; the rest join again
      c.changed.insert(user);
    }
  }
}

ChannelPresenceReporter::Change ChannelPresenceReporter::reduce(const std::string& name, Channel& c) {
  Change change{name, c.connections, {}, {}};
  for (const std::string& user : c.changed) {
    auto u = c.users.find(user);
    if (u == c.users.end()) continue;
    if (u->second.connections > 0 && !u->second.reported) {
      u->second.reported = true;
      change.join.push_back(user);
    } else if (u->second.connections == 0) {
      if (u->second.reported) change.leave.push_back(user);
      c.users.erase(u);
    }
  }
  c.changed.clear();
  return change;
}

std::vector<ChannelPresenceReporter::Chunk> ChannelPresenceReporter::take() {
  std::vector<Chunk> out;
  std::vector<size_t> bytes;  // of each chunk in `out`
  std::vector<size_t> openChunk;  // per shard: its chunk being filled (SIZE_MAX: none)
  auto chunkFor = [&](size_t shard, size_t cost) -> Chunk& {
    if (openChunk.size() <= shard) openChunk.resize(shard + 1, SIZE_MAX);
    size_t& open = openChunk[shard];
    if (open == SIZE_MAX || bytes[open] + cost > maxChunkBytes_) {
      open = out.size();
      out.push_back(Chunk{shard, {}});
      bytes.push_back(0);
    }
    bytes[open] += cost;
    return out[open];
  };
  for (const std::string& name : dirty_) {
    auto it = channels_.find(name);
    if (it == channels_.end()) continue;
    Change change = reduce(name, it->second);
    const size_t shard = it->second.shard;
    if (it->second.connections == 0 && it->second.users.empty()) channels_.erase(it);
    // One channel's change may span chunks: the count is absolute, so each part repeats it.
    Change* part = nullptr;
    auto add = [&](std::string& user, bool join) {
      const size_t cost = user.size() + kPerIdBytes;
      Chunk& chunk = chunkFor(shard, part == nullptr ? cost + name.size() + 16 : cost);
      if (chunk.changes.empty() || &chunk.changes.back() != part) {
        chunk.changes.push_back(Change{name, change.connections, {}, {}});
        part = &chunk.changes.back();
      }
      (join ? part->join : part->leave).push_back(std::move(user));
    };
    for (std::string& user : change.join) add(user, true);
    for (std::string& user : change.leave) add(user, false);
    if (part == nullptr) chunkFor(shard, name.size() + 16).changes.push_back(Change{name, change.connections, {}, {}});
  }
  dirty_.clear();
  return out;
}

}  // namespace webim
