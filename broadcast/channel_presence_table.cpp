#include "broadcast/channel_presence_table.h"

#include <algorithm>

namespace webim::hub {

bool ChannelPresenceTable::Member::has(FrontendIndex frontend) const {
  const size_t inlined = std::min<size_t>(count, inlineFrontends.size());
  if (std::find(inlineFrontends.begin(), inlineFrontends.begin() + inlined, frontend) != inlineFrontends.begin() + inlined) {
    return true;
  }
  return extra && std::find(extra->begin(), extra->end(), frontend) != extra->end();
}

void ChannelPresenceTable::Member::add(FrontendIndex frontend) {
  if (has(frontend)) return;
  if (count < inlineFrontends.size()) {
    inlineFrontends[count] = frontend;
  } else {
    if (!extra) extra = std::make_unique<std::vector<FrontendIndex>>();
    extra->push_back(frontend);
  }
  ++count;
}

void ChannelPresenceTable::Member::remove(FrontendIndex frontend) {
  const size_t inlined = std::min<size_t>(count, inlineFrontends.size());
  auto at = std::find(inlineFrontends.begin(), inlineFrontends.begin() + inlined, frontend);
  if (at != inlineFrontends.begin() + inlined) {
    // The last frontend takes its place: from `extra` when there is one, else the last inline one.
    if (extra && !extra->empty()) {
      *at = extra->back();
      extra->pop_back();
      if (extra->empty()) extra.reset();
    } else {
      *at = inlineFrontends[inlined - 1];
    }
    --count;
    return;
  }
  if (extra && std::erase(*extra, frontend) > 0) {
    --count;
    if (extra->empty()) extra.reset();
  }
}

// The index of `boot`, the current process of `frontendId` (a new one for a new process).
std::optional<ChannelPresenceTable::FrontendIndex> ChannelPresenceTable::intern(std::string_view frontendId,
                                                                              uint64_t boot) {
  auto it = processes_.find(std::string(frontendId));
  if (it != processes_.end() && it->second.boot == boot) return it->second.index;
  if (it != processes_.end()) forgetFrontend(frontendId);  // replaced without being forgotten first
  FrontendIndex index = 0;
  if (!freeIndices_.empty()) {
    index = freeIndices_.back();
    freeIndices_.pop_back();
  } else if (channelsOf_.size() < UINT16_MAX) {
    index = static_cast<FrontendIndex>(channelsOf_.size());
    channelsOf_.emplace_back();
  } else {
    return std::nullopt;
  }
  processes_[std::string(frontendId)] = Process{boot, index};
  return index;
}

// The reporter's entry (added when new). References stay valid until a reporter is removed, which
// only update() and withdraw() do, at their end.
ChannelPresenceTable::Reporter& ChannelPresenceTable::reporter(Channel& channel, const std::string& name,
                                                               FrontendIndex frontend) {
  for (Reporter& r : channel.reporters) {
    if (r.frontend == frontend) return r;
  }
  channelsOf_[frontend].insert(name);
  return channel.reporters.emplace_back(Reporter{frontend, 0, 0});
}

bool ChannelPresenceTable::update(std::string_view frontendId, uint64_t boot, const std::string& channel,
                                  uint32_t connections, std::span<const std::string> join,
                                  std::span<const std::string> leave, uint64_t nowMs) {
  const std::optional<FrontendIndex> index = intern(frontendId, boot);
  if (!index) return false;
  const FrontendIndex frontend = *index;
  Channel& c = channels_[channel];
  Reporter& r = reporter(c, channel, frontend);
  c.connections = c.connections - r.connections + connections;
  r.connections = connections;
  for (const std::string& user : join) this->join(c, channel, frontend, user, nowMs);
  for (const std::string& user : leave) this->leave(c, channel, frontend, user, nowMs);
  std::erase_if(c.reporters, [&](const Reporter& x) {
    if (x.connections != 0 || x.unlisted != 0) return false;
    channelsOf_[x.frontend].erase(channel);
    return true;
  });
  eraseIfEmpty(channel);
  return true;
}

void ChannelPresenceTable::join(Channel& channel, const std::string& name, FrontendIndex frontend,
                                const std::string& user, uint64_t nowMs) {
  auto it = channel.members.find(user);
  if (it != channel.members.end()) {
    Member& member = it->second;
    member.add(frontend);
    member.leaveAtMs = 0;  // back within the grace: no leave, no join (its deadline is ignored when due)
    return;
  }
  if (channel.members.size() >= options_.maxMembers) {
    reporter(channel, name, frontend).unlisted++;
    channel.unlisted++;
    return;
  }
  Member& member = channel.members.emplace(user, Member{}).first->second;
  member.add(frontend);
  changed(channel, name, user, &member, nowMs);
}

void ChannelPresenceTable::leave(Channel& channel, const std::string& name, FrontendIndex frontend,
                                 const std::string& user, uint64_t nowMs) {
  auto it = channel.members.find(user);
  if (it == channel.members.end() || !it->second.has(frontend)) {
    Reporter& r = reporter(channel, name, frontend);  // an unlisted user of that frontend
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
  member.remove(frontend);
  if (member.count > 0) return;
  if (options_.graceMs == 0) {
    leaveNow(channel, name, user, nowMs);
    return;
  }
  member.leaveAtMs = nowMs + options_.graceMs;
  deadlines_.emplace(member.leaveAtMs, Deadline{name, user});
}

// A member joined (`joined`: it) or left (nullptr): told with the channel's next event, at most one
// per eventIntervalMs. A leave and a join of one user between two events cancel out.
void ChannelPresenceTable::changed(Channel& channel, const std::string& name, const std::string& user, Member* joined,
                                   uint64_t nowMs) {
  if (joined != nullptr) {
    auto left = std::find(channel.pendingLeaves.begin(), channel.pendingLeaves.end(), user);
    if (left != channel.pendingLeaves.end()) {
      channel.pendingLeaves.erase(left);  // left and came back since the last event: nothing to tell
      return;
    }
    joined->pendingJoin = true;
    channel.pendingJoins.push_back(user);
  } else {
    channel.pendingLeaves.push_back(user);
  }
  if (channel.eventAtMs != 0) return;
  channel.eventAtMs = std::max(nowMs, channel.lastEventMs == 0 ? 0 : channel.lastEventMs + options_.eventIntervalMs);
  deadlines_.emplace(channel.eventAtMs, Deadline{name, {}});
}

// The member's grace is over (or there is none): it leaves; a join not yet told is simply dropped.
void ChannelPresenceTable::leaveNow(Channel& channel, const std::string& name, const std::string& user,
                                   uint64_t nowMs) {
  auto it = channel.members.find(user);
  const bool untold = it->second.pendingJoin;
  channel.members.erase(it);
  if (!untold) changed(channel, name, user, nullptr, nowMs);
}

void ChannelPresenceTable::forgetFrontend(std::string_view frontendId) {
  auto it = processes_.find(std::string(frontendId));
  if (it == processes_.end()) return;
  const FrontendIndex index = it->second.index;
  processes_.erase(it);  // its next process gets an index of its own at once
  forgetting_.push_back(Forgetting{index, std::move(channelsOf_[index])});
  channelsOf_[index] = {};
}

void ChannelPresenceTable::forgetStep(size_t budget, uint64_t nowMs) {
  size_t visited = 0;
  while (!forgetting_.empty() && visited < budget) {
    Forgetting& f = forgetting_.front();
    if (f.channels.empty()) {
      freeIndices_.push_back(f.index);  // nothing refers to it any more
      forgetting_.pop_front();
      continue;
    }
    const std::string name = std::move(f.channels.extract(f.channels.begin()).value());
    auto it = channels_.find(name);
    visited += kChannelVisit + (it == channels_.end() ? 0 : it->second.members.size());
    withdraw(name, f.index, nowMs);
  }
}

// Everything `frontend` reported in the channel: its connections, its unlisted users, and its part
// in each member (a member no other frontend holds starts its grace).
void ChannelPresenceTable::withdraw(const std::string& name, FrontendIndex frontend, uint64_t nowMs) {
  auto it = channels_.find(name);
  if (it == channels_.end()) return;
  Channel& c = it->second;
  for (const Reporter& r : c.reporters) {
    if (r.frontend != frontend) continue;
    c.connections -= r.connections;
    c.unlisted -= r.unlisted;
  }
  std::erase_if(c.reporters, [frontend](const Reporter& r) { return r.frontend == frontend; });
  std::vector<std::string> held;
  for (const auto& [user, member] : c.members) {
    if (member.has(frontend)) held.push_back(user);
  }
  for (const std::string& user : held) dropFrom(c, name, c.members.at(user), user, frontend, nowMs);
  eraseIfEmpty(name);
}

std::vector<ChannelPresenceTable::Event> ChannelPresenceTable::takeEvents(uint64_t nowMs, size_t maxDeadlines) {
  std::vector<Event> out;
  for (size_t n = 0; n < maxDeadlines && !deadlines_.empty() && deadlines_.begin()->first <= nowMs; ++n) {
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
    Event event = takePending(c, due.channel);
    if (!event.join.empty() || !event.leave.empty()) {
      out.push_back(std::move(event));
      c.lastEventMs = nowMs;
    }
    eraseIfEmpty(due.channel);
  }
  return out;
}

// The joins still to tell (a member that left again meanwhile is gone, one listed twice is told once)
// and the leaves, each in byte order.
ChannelPresenceTable::Event ChannelPresenceTable::takePending(Channel& c, const std::string& name) {
  Event event{name, {}, {}};
  for (std::string& user : c.pendingJoins) {
    auto member = c.members.find(user);
    if (member == c.members.end() || !member->second.pendingJoin) continue;
    member->second.pendingJoin = false;
    event.join.push_back(std::move(user));
  }
  event.leave = std::move(c.pendingLeaves);
  c.pendingJoins.clear();
  c.pendingJoins.shrink_to_fit();  // a burst's list does not stay allocated
  c.pendingLeaves = {};
  std::sort(event.join.begin(), event.join.end());
  std::sort(event.leave.begin(), event.leave.end());
  return event;
}

void ChannelPresenceTable::endGrace(const Deadline& due, uint64_t atMs, uint64_t nowMs) {
  auto it = channels_.find(due.channel);
  if (it == channels_.end()) return;
  Channel& c = it->second;
  auto member = c.members.find(due.user);
  // Came back meanwhile (or left again later, with a later deadline): not this one's to end.
  if (member == c.members.end() || member->second.count > 0 || member->second.leaveAtMs != atMs) return;
  leaveNow(c, due.channel, due.user, nowMs);
  eraseIfEmpty(due.channel);
}

void ChannelPresenceTable::eraseIfEmpty(const std::string& name) {
  auto it = channels_.find(name);
  if (it == channels_.end()) return;
  const Channel& c = it->second;
  if (c.members.empty() && c.reporters.empty() && c.pendingJoins.empty() && c.pendingLeaves.empty() &&
      c.eventAtMs == 0) {
    channels_.erase(it);
  }
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
