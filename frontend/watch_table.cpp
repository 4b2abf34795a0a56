// The watchlist at a frontend (watch_table.h).
#include "frontend/watch_table.h"

#include <algorithm>
#include <unordered_set>

#include "common/token.h"

namespace webim {

static_assert(kMaxWatchedUsers <= WatchTable::kMaxList, "a connection's list position must fit its bits");

namespace {

constexpr uint32_t pack(uint32_t conn, uint32_t pos) { return conn << WatchTable::kListBits | pos; }
constexpr uint32_t connOf(uint32_t slot) { return slot >> WatchTable::kListBits; }
constexpr uint32_t posOf(uint32_t slot) { return slot & (WatchTable::kMaxList - 1); }

}  // namespace

uint32_t WatchTable::intern(const std::string& user) {
  if (auto it = index_.find(user); it != index_.end()) return it->second;
  uint32_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
    entries_[index] = Entry{user, {}, 0, {}, {}};
  } else {
    index = static_cast<uint32_t>(entries_.size());
    entries_.push_back(Entry{user, {}, 0, {}, {}});
  }
  index_.emplace(user, index);
  return index;
}

uint32_t& WatchTable::slotOf(uint32_t link, uint32_t conn, uint32_t pos) {
  if (!(link & kInEntry)) return arena(link);
  Entry& e = entries_[link & ~kInEntry];
  uint32_t i = 0;
  while (e.few[i] != pack(conn, pos)) ++i;  // at most kFew
  return e.few[i];
}

uint32_t WatchTable::newPage(uint32_t index) {
  uint32_t page;
  if (!freePages_.empty()) {
    page = freePages_.back();
    freePages_.pop_back();
    pageOwner_[page] = index;
  } else {
    page = static_cast<uint32_t>(pageOwner_.size());
    pageOwner_.push_back(index);
    if (page * kPage % kBlock == 0) blocks_.push_back(std::make_unique<uint32_t[]>(kBlock));
  }
  entries_[index].pages.push_back(page);
  return page;
}

// The user's kFew watchers in its entry move to its first arena page; their links follow.
void WatchTable::toArena(uint32_t index) {
  const uint32_t page = newPage(index);
  Entry& e = entries_[index];
  for (uint32_t i = 0; i < e.count; ++i) {
    const uint32_t at = page * kPage + i;
    arena(at) = e.few[i];
    conns_[connOf(e.few[i])].links[posOf(e.few[i])] = at;
  }
}

uint32_t WatchTable::addWatcher(uint32_t index, uint32_t conn, uint32_t pos) {
  ++watches_;
  if (entries_[index].pages.empty()) {
    if (entries_[index].count < kFew) {
      Entry& e = entries_[index];
      e.few[e.count++] = pack(conn, pos);
      return kInEntry | index;
    }
    toArena(index);
  } else if (entries_[index].count % kPage == 0) {
    newPage(index);
  }
  Entry& e = entries_[index];
  const uint32_t at = e.pages[e.count / kPage] * kPage + e.count % kPage;
  ++e.count;
  arena(at) = pack(conn, pos);
  return at;
}

bool WatchTable::removeWatcher(uint32_t link, uint32_t conn, uint32_t pos) {
  const uint32_t index = entryOf(link);
  Entry& e = entries_[index];
  --watches_;
  --e.count;
  if (e.pages.empty()) {  // in the entry: the last one moves into the hole, its link unchanged
    uint32_t& hole = slotOf(link, conn, pos);
    hole = e.few[e.count];
  } else {
    const uint32_t last = e.pages[e.count / kPage] * kPage + e.count % kPage;
    if (last != link) {  // the user's last watcher moves into the hole: its connection's link follows
      const uint32_t moved = arena(last);
      arena(link) = moved;
      conns_[connOf(moved)].links[posOf(moved)] = link;
    }
    if (e.count % kPage == 0) {
      freePages_.push_back(e.pages.back());
      e.pages.pop_back();
    }
  }
  if (e.count != 0) return false;
  index_.erase(e.user);
  e = Entry{};
  free_.push_back(index);
  return true;
}

uint32_t WatchTable::connRecord(int32_t fd) {
  if (auto it = byConn_.find(fd); it != byConn_.end()) return it->second;
  uint32_t record;
  if (!freeConns_.empty()) {
    record = freeConns_.back();
    freeConns_.pop_back();
  } else if (conns_.size() < kMaxConnections) {
    record = static_cast<uint32_t>(conns_.size());
    conns_.emplace_back();
  } else {
    return kMaxConnections;
  }
  conns_[record].fd = fd;
  byConn_.emplace(fd, record);
  return record;
}

void WatchTable::freeConn(int32_t fd, uint32_t record) {
  conns_[record] = Conn{};
  freeConns_.push_back(record);
  byConn_.erase(fd);
}

WatchTable::Change WatchTable::set(int32_t conn, const std::vector<std::string>& users) {
  Change change;
  const bool had = watching(conn);
  if (!had && users.empty()) return change;
  const uint32_t record = connRecord(conn);
  if (record == kMaxConnections) return change;  // beyond the packing limit: not watched
  // Its users now (entry -> slot), to tell kept ones from new and gone ones.
  struct Held {
    uint32_t link, pos;
  };
  std::unordered_map<uint32_t, Held> old;
  old.reserve(conns_[record].links.size());
  for (uint32_t pos = 0; pos < conns_[record].links.size(); ++pos) {
    const uint32_t link = conns_[record].links[pos];
    old.emplace(entryOf(link), Held{link, pos});
  }
  std::vector<uint32_t> next;
  std::unordered_set<uint32_t> chosen;
  next.reserve(std::min<size_t>(users.size(), kMaxList));
  for (const std::string& user : users) {
    if (next.size() == kMaxList) break;
    const bool isNew = index_.count(user) == 0;
    const uint32_t index = intern(user);
    if (!chosen.insert(index).second) continue;  // a duplicate
    if (auto kept = old.find(index); kept != old.end()) {  // its slot now tells its new position
      slotOf(kept->second.link, record, kept->second.pos) = pack(record, static_cast<uint32_t>(next.size()));
      next.push_back(kept->second.link);
      old.erase(kept);
      continue;
    }
    next.push_back(addWatcher(index, record, static_cast<uint32_t>(next.size())));
    if (isNew) {
      change.watch.push_back(user);
    } else if (entries_[index].status.state != State::Unknown) {
      change.known.push_back(index);
    }
  }
  for (const auto& [index, held] : old) {  // gone from the list (kept users' slots never move here)
    std::string user = entries_[index].user;
    if (removeWatcher(held.link, record, held.pos)) change.unwatch.push_back(std::move(user));
  }
  std::sort(change.unwatch.begin(), change.unwatch.end());
  if (next.empty()) {
    freeConn(conn, record);
  } else {
    next.shrink_to_fit();
    conns_[record].links = std::move(next);
  }
  return change;
}

std::vector<std::string> WatchTable::clear(int32_t conn) {
  std::vector<std::string> unwatch;
  auto it = byConn_.find(conn);
  if (it == byConn_.end()) return unwatch;
  const uint32_t record = it->second;
  const std::vector<uint32_t>& links = conns_[record].links;
  for (uint32_t pos = 0; pos < links.size(); ++pos) {
    std::string user = entries_[entryOf(links[pos])].user;
    if (removeWatcher(links[pos], record, pos)) unwatch.push_back(std::move(user));
  }
  freeConn(conn, record);
  return unwatch;
}

std::vector<int32_t> WatchTable::update(const std::string& user, Status status) {
  auto it = index_.find(user);
  if (it == index_.end()) return {};
  Entry& entry = entries_[it->second];
  const bool same = entry.status.state == status.state &&
                    (status.state == State::Online || entry.status.lastSeenMs == status.lastSeenMs);
  entry.status = status;
  if (same) return {};
  std::vector<int32_t> fds;
  fds.reserve(entry.count);
  for (uint32_t i = 0; i < entry.count; ++i) fds.push_back(conns_[connOf(slotAt(entry, i))].fd);
  return fds;
}

std::vector<std::string> WatchTable::stillWatched(std::vector<std::string> users) const {
  users.erase(std::remove_if(users.begin(), users.end(), [&](const std::string& u) { return index_.count(u) == 0; }),
              users.end());
  return users;
}

size_t WatchTable::pairBytes() const noexcept {
  size_t bytes = blocks_.size() * kBlock * sizeof(uint32_t) + (pageOwner_.capacity() + freePages_.capacity()) * sizeof(uint32_t);
  for (const Entry& e : entries_) bytes += e.pages.capacity() * sizeof(uint32_t);
  for (const Conn& c : conns_) bytes += c.links.capacity() * sizeof(uint32_t);
  return bytes;
}

}  // namespace webim
