// The pre-fix WatchTable (watch_table_linear.h), for the bench only.
#include "watch_table_linear.h"

#include <algorithm>

namespace webim {

uint32_t LinearWatchTable::intern(const std::string& user) {
  if (auto it = index_.find(user); it != index_.end()) return it->second;
  uint32_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
    entries_[index] = Entry{user, {}, {}};
  } else {
    index = static_cast<uint32_t>(entries_.size());
    entries_.push_back(Entry{user, {}, {}});
  }
  index_.emplace(user, index);
  return index;
}

bool LinearWatchTable::release(uint32_t index, int32_t conn) {
  std::vector<int32_t>& watchers = entries_[index].watchers;
  auto it = std::find(watchers.begin(), watchers.end(), conn);
  if (it == watchers.end()) return false;
  *it = watchers.back();
  watchers.pop_back();
  --watches_;
  if (!watchers.empty()) return false;
  index_.erase(entries_[index].user);
  entries_[index] = Entry{};
  entries_[index].watchers.shrink_to_fit();
  free_.push_back(index);
  return true;
}

LinearWatchTable::Change LinearWatchTable::set(int32_t conn, const std::vector<std::string>& users) {
  Change change;
  std::vector<uint32_t> next;
  next.reserve(users.size());
  for (const std::string& user : users) {
    const bool isNew = index_.count(user) == 0;
    const uint32_t index = intern(user);
    std::vector<int32_t>& watchers = entries_[index].watchers;
    if (std::find(watchers.begin(), watchers.end(), conn) != watchers.end()) {
      if (std::find(next.begin(), next.end(), index) == next.end()) next.push_back(index);  // kept
      continue;
    }
    watchers.push_back(conn);
    ++watches_;
    next.push_back(index);
    if (isNew) {
      change.watch.push_back(user);
    } else if (entries_[index].status.state != State::Unknown) {
      change.known.push_back(index);
    }
  }
  auto old = byConn_.find(conn);
  if (old != byConn_.end()) {
    for (uint32_t index : old->second) {
      if (std::find(next.begin(), next.end(), index) != next.end()) continue;
      std::string user = entries_[index].user;
      if (release(index, conn)) change.unwatch.push_back(std::move(user));
    }
  }
  if (next.empty()) {
    if (old != byConn_.end()) byConn_.erase(old);
  } else {
    next.shrink_to_fit();
    byConn_[conn] = std::move(next);
  }
  return change;
}

std::vector<std::string> LinearWatchTable::clear(int32_t conn) {
  std::vector<std::string> unwatch;
  auto it = byConn_.find(conn);
  if (it == byConn_.end()) return unwatch;
  for (uint32_t index : it->second) {
    std::string user = entries_[index].user;
    if (release(index, conn)) unwatch.push_back(std::move(user));
  }
  byConn_.erase(it);
  return unwatch;
}

std::vector<int32_t> LinearWatchTable::update(const std::string& user, Status status) {
  auto it = index_.find(user);
  if (it == index_.end()) return {};
  Entry& entry = entries_[it->second];
  const bool same = entry.status.state == status.state &&
                    (status.state == State::Online || entry.status.lastSeenMs == status.lastSeenMs);
  entry.status = status;
  if (same) return {};
  return entry.watchers;
}

}  // namespace webim
