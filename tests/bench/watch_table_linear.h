// The frontend's WatchTable as it was before 2026-12-05 (linear watcher search), kept for
// watch_table_bench's side-by-side figure only (frontend/watch_table.h for the real one).
//
// Budget: 8 bytes per watched id per connection. Watched users are interned once per frontend
// (id, status, watchers); a watcher is a connection's socket fd (4 bytes, unique while the
// connection lives: the connection clears its watches before its fd is closed), and a connection's
// list holds 4-byte indices of the interned users. Connections without a `watch` claim cost nothing.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace webim {

class LinearWatchTable {
 public:
  enum class State : int8_t { Unknown = -1, Offline = 0, Online = 1 };
  struct Status {
    State state = State::Unknown;
    int64_t lastSeenMs = 0;  // offline: when the user went (0: not known)
  };
  struct Change {
    std::vector<std::string> watch;    // watched here now and not before: ask the hub
    std::vector<std::string> unwatch;  // watched by no connection here any more: tell the hub
    std::vector<uint32_t> known;       // the connection's users whose status is known: tell it now
  };

  // Replaces what `conn` watches with `users` (duplicates count once).
  Change set(int32_t conn, const std::vector<std::string>& users);
  // `conn` is gone: the users nobody here watches any more.
  std::vector<std::string> clear(int32_t conn);
  // A status from the hub. Returns the connections to tell: every watcher when the status changed
  // (or was unknown), none when it did not (a hub restart re-announces what was known).
  std::vector<int32_t> update(const std::string& user, Status status);
  const std::string& user(uint32_t index) const { return entries_[index].user; }
  const Status& status(uint32_t index) const { return entries_[index].status; }
  // Every watched user (a hub restarted: watched again), f(const std::string&).
  template <class F>
  void forEachUser(F&& f) const {
    for (const Entry& e : entries_) {
      if (!e.watchers.empty()) f(e.user);
    }
  }
  size_t users() const noexcept { return index_.size(); }
  size_t watches() const noexcept { return watches_; }
  bool watching(int32_t conn) const { return byConn_.count(conn) != 0; }
  size_t pairBytes() const noexcept {  // the watcher lists and the connections' lists (capacities)
    size_t bytes = 0;
    for (const Entry& e : entries_) bytes += e.watchers.capacity() * sizeof(int32_t);
    for (const auto& [fd, list] : byConn_) bytes += list.capacity() * sizeof(uint32_t);
    return bytes;
  }

 private:
  struct Entry {
    std::string user;
    Status status;
    std::vector<int32_t> watchers;  // connections (fds)
  };
  uint32_t intern(const std::string& user);
  // Drops `conn` from the user's watchers; true when nobody here watches it any more (freed).
  bool release(uint32_t index, int32_t conn);

  std::vector<Entry> entries_;
  std::vector<uint32_t> free_;
  std::unordered_map<std::string, uint32_t> index_;
  std::unordered_map<int32_t, std::vector<uint32_t>> byConn_;  // connection -> its users (indices)
  size_t watches_ = 0;  // (connection, user) pairs
};

}  // namespace webim
