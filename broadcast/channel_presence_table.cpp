#include "broadcast/channel_presence_table.h"

#include <algorithm>

namespace webim::hub {

ChannelPresenceTable::FrontendIndex ChannelPresenceTable::intern(std::string_view frontendId) {
  auto [it, added] = frontendIds_.try_emplace(std::string(frontendId), static_cast<FrontendIndex>(frontendIds_.size()));
  return it->second;
}

// The reporter's entry (added when new). References stay valid until a reporter is removed, which
// only update() and forgetFrontend() do, at their end.
ChannelPresenceTable::Reporter& ChannelPresenceTable::reporter(Channel& channel, FrontendIndex frontend) {
  for (Reporter& r : channel.reporters) {
    if (r.frontend == frontend) return r;
  }
  return channel.reporters.emplace_back(Reporter{frontend, 0, 0});
}

void ChannelPresenceTable::update(std::string_view frontendId, const std::string& channel, uint32_t connections,
                                  std::span<const std::string> join, std::span<const std::string> leave,
                                  uint64_t nowMs) {
  const FrontendIndex frontend = intern(frontendId);
  Channel& c = channels_[channel];
  Reporter& r = reporter(c, frontend);
  c.connections = c.connections - r.connections + connections;
  r.connections = connections;
  for (const std::string& user : join) this->join(c, channel, frontend, user, nowMs);
  for (const std::string& user : leave) this->leave(c, channel, frontend, user, nowMs);
  std::erase_if(c.reporters, [](const Reporter& x) { return x.connections == 0 && x.unlisted == 0; });
  eraseIfEmpty(channel);
}

void ChannelPresenceTable::join(Channel& channel, const std::string& name, FrontendIndex frontend,
                                const std::string& user, uint64_t nowMs) {
  auto it = channel.members.find(user);
  if (it != channel.members.end()) {
    Member& member = it->second;
    if (std::find(member.frontends.begin(), member.frontends.end(), frontend) == member.frontends.end()) {
      member.frontends.push_back(frontend);
    }
    member.leaveAtMs = 0;  // back within the grace: no leave, no join (its deadline is ignored when due)
    return;
  }
  if (channel.members.size() >= options_.maxMembers) {
    reporter(channel, frontend).unlisted++;
    channel.unlisted++;
    return;
  }
  channel.members.emplace(user, Member{{frontend}, 0});
  changed(channel, name, user, true, nowMs);
}

void ChannelPresenceTable::leave(Channel& channel, const std::string& name, FrontendIndex frontend,
                                 const std::string& user, uint64_t nowMs) {
  auto it = channel.members.find(user);
  if (it == channel.members.end() ||
      std::find(it->second.frontends.begin(), it->second.frontends.end(), frontend) == it->second.frontends.end()) {
    Reporter& r = reporter(channel, frontend);  // an unlisted user of that frontend
    if (r.unlisted > 0) {
      r.unlisted--;
      channel.unlisted--;
    }
    return;
  }
  dropFrom(channel, name, it->second, user, frontend, nowMs);
}

// `frontend` no longer holds `user`: with no frontend left the member's grace starts.
void ChannelPresenceTable::dropFrom(Channel& channel, const std::string& name, Member& member,
                                    const std::string& user, FrontendIndex frontend, uint64_t nowMs) {
  std::erase(member.frontends, frontend);
  if (!member.frontends.empty()) return;
  if (options_.graceMs == 0) {
    channel.members.erase(user);
    changed(channel, name, user, false, nowMs);
    return;
  }
  member.leaveAtMs = nowMs + options_.graceMs;
  deadlines_.emplace(member.leaveAtMs, Deadline{name, user});
}

// A member joined or left: told with the channel's next event, at most one per eventIntervalMs.
void ChannelPresenceTable::changed(Channel& channel, const std::string& name, const std::string& user, bool joined,
                                   uint64_t nowMs) {
  auto it = channel.pending.find(user);
  if (it != channel.pending.end() && it->second != joined) {
    channel.pending.erase(it);  // left and came back (or the reverse) since the last event: nothing to tell
  } else {
    channel.pending.insert_or_assign(user, joined);
  }
  if (channel.pending.empty() || channel.eventAtMs != 0) return;
  channel.eventAtMs = std::max(nowMs, channel.lastEventMs == 0 ? 0 : channel.lastEventMs + options_.eventIntervalMs);
  deadlines_.emplace(channel.eventAtMs, Deadline{name, {}});
}

void ChannelPresenceTable::forgetFrontend(std::string_view frontendId, uint64_t nowMs) {
  auto id = frontendIds_.find(std::string(frontendId));
  if (id == frontendIds_.end()) return;
  const FrontendIndex frontend = id->second;
  std::vector<std::string> names;
  names.reserve(channels_.size());
  for (const auto& [name, channel] : channels_) names.push_back(name);
  std::vector<std::string> held;
  for (const std::string& name : names) {
    Channel& c = channels_.at(name);
    for (const Reporter& r : c.reporters) {
      if (r.frontend != frontend) continue;
      c.connections -= r.connections;
      c.unlisted -= r.unlisted;
    }
    std::erase_if(c.reporters, [frontend](const Reporter& r) { return r.frontend == frontend; });
    held.clear();
    for (const auto& [user, member] : c.members) {
      if (std::find(member.frontends.begin(), member.frontends.end(), frontend) != member.frontends.end()) {
        held.push_back(user);
      }
    }
    for (const std::string& user : held) dropFrom(c, name, c.members.at(user), user, frontend, nowMs);
    eraseIfEmpty(name);
  }
}

std::vector<ChannelPresenceTable::Event> ChannelPresenceTable::takeEvents(uint64_t nowMs) {
  std::vector<Event> out;
  while (!deadlines_.empty() && deadlines_.begin()->first <= nowMs) {
    auto node = deadlines_.extract(deadlines_.begin());
    const uint64_t atMs = node.key();
    const Deadline& due = node.mapped();
    if (!due.user.empty()) {
      endGrace(due, atMs, nowMs);
      continue;
    }
    auto it = channels_.find(due.channel);
    if (it == channels_.end() || it->second.eventAtMs != atMs) continue;  // gone, or rescheduled
    Channel& c = it->second;
    c.eventAtMs = 0;
    if (!c.pending.empty()) {
      Event& event = out.emplace_back(Event{due.channel, {}, {}});
      for (const auto& [user, joined] : c.pending) (joined ? event.join : event.leave).push_back(user);
      c.pending.clear();
      c.lastEventMs = nowMs;
    }
    eraseIfEmpty(due.channel);
  }
  return out;
}

void ChannelPresenceTable::endGrace(const Deadline& due, uint64_t atMs, uint64_t nowMs) {
  auto it = channels_.find(due.channel);
  if (it == channels_.end()) return;
  Channel& c = it->second;
  auto member = c.members.find(due.user);
  // Came back meanwhile (or left again later, with a later deadline): not this one's to end.
  if (member == c.members.end() || !member->second.frontends.empty() || member->second.leaveAtMs != atMs) return;
  c.members.erase(member);
  changed(c, due.channel, due.user, false, nowMs);
  eraseIfEmpty(due.channel);
}

void ChannelPresenceTable::eraseIfEmpty(const std::string& name) {
  auto it = channels_.find(name);
  if (it == channels_.end()) return;
  const Channel& c = it->second;
  if (c.members.empty() && c.reporters.empty() && c.pending.empty() && c.eventAtMs == 0) channels_.erase(it);
}

ChannelPresenceTable::Stats ChannelPresenceTable::stats(std::string_view channel) const {
  auto it = channels_.find(std::string(channel));
  if (it == channels_.end()) return {};
  return {it->second.connections, it->second.members.size() + it->second.unlisted};
}

ChannelPresenceTable::Page ChannelPresenceTable::list(std::string_view channel, std::string_view after,
                                                      size_t limit) const {
  Page page;
  auto it = channels_.find(std::string(channel));
  if (it == channels_.end()) return page;
  const auto& members = it->second.members;
  auto member = after.empty() ? members.begin() : members.upper_bound(after);
  for (; member != members.end() && page.users.size() < limit; ++member) page.users.push_back(member->first);
  page.more = member != members.end();
  return page;
}

size_t ChannelPresenceTable::members() const noexcept {
  size_t n = 0;
  for (const auto& [name, channel] : channels_) n += channel.members.size();
  return n;
}

}  // namespace webim::hub
