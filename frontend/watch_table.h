// The watchlist at a frontend (docs/architecture.md "Watchlist"), pure: which connections watch
// which users (the token's `watch` claim), and each watched user's last known status.
//
// Budget: about 8 bytes per watched id per connection, every add and remove O(1) (no search,
// however many watch one user). Watched users are interned once per frontend (id, status,
// watchers). Each (connection, user) pair is two 4-byte words: the user's watcher slot holds the
// connection's record index and the pair's position in that connection's list, packed (22 + 10
// bits); the connection's list holds where that slot is. A user's first kFew slots are in its
// entry; beyond, all of them are in a shared arena of 16-slot pages (each page owned by one user,
// 8 bytes of bookkeeping per page). Removing a pair swaps the user's last slot into its place and
// fixes that slot's connection's list entry. A connection without a `watch` claim costs nothing.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace webim {

class WatchTable {
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
  // Packing limits: a connection's list (the `watch` claim: at most 1,000 ids; more are ignored)
  // and the connections watching at once on one frontend (beyond: a set() watches nothing).
  static constexpr uint32_t kListBits = 10;
  static constexpr uint32_t kMaxList = 1u << kListBits;
  static constexpr uint32_t kMaxConnections = 1u << (32 - kListBits);
  static constexpr uint32_t kPage = 16;  // watcher slots per arena page
  static constexpr uint32_t kFew = 4;    // watcher slots in the user's entry (before any page)

  // Replaces what `conn` watches with `users` (duplicates count once).
  Change set(int32_t conn, const std::vector<std::string>& users);
  // `conn` is gone: the users nobody here watches any more.
  std::vector<std::string> clear(int32_t conn);
  // A status from the hub. Returns the connections to tell: every watcher when the status changed
  // (or was unknown), none when it did not (a hub restart re-announces what was known).
  std::vector<int32_t> update(const std::string& user, Status status);
  // `users` less those nobody here watches any more (a watch retried after an unwatch must not
  // leave the hub routing a user to nobody).
  std::vector<std::string> stillWatched(std::vector<std::string> users) const;
  const std::string& user(uint32_t index) const { return entries_[index].user; }
  const Status& status(uint32_t index) const { return entries_[index].status; }
  // Every watched user (a hub restarted: watched again), f(const std::string&).
  template <class F>
  void forEachUser(F&& f) const {
    for (const Entry& e : entries_) {
      if (e.count != 0) f(e.user);
    }
  }
  size_t users() const noexcept { return index_.size(); }
  size_t watches() const noexcept { return watches_; }
  bool watching(int32_t conn) const { return byConn_.count(conn) != 0; }
  // Bytes held for the (connection, user) pairs: the arena, its page owners, each user's page
  // list and each connection's list (capacities; the bench divides by watches()).
  size_t pairBytes() const noexcept;

 private:
  struct Entry {
    std::string user;
    Status status;
    uint32_t count = 0;           // watchers
    uint32_t few[kFew] = {};      // their slots while there are no pages
    std::vector<uint32_t> pages;  // arena pages holding all its watcher slots, in order
  };
  struct Conn {
    int32_t fd = -1;
    // Per user: the arena position of its slot, or kInEntry | the user's entry index.
    std::vector<uint32_t> links;
  };
  static constexpr uint32_t kInEntry = 1u << 31;
  static constexpr uint32_t kBlock = 1u << 14;  // arena slots per allocation (no vector doubling)
  uint32_t intern(const std::string& user);
  uint32_t entryOf(uint32_t link) const { return link & kInEntry ? link & ~kInEntry : pageOwner_[link / kPage]; }
  uint32_t& arena(uint32_t at) { return blocks_[at / kBlock][at % kBlock]; }
  uint32_t arena(uint32_t at) const { return blocks_[at / kBlock][at % kBlock]; }
  uint32_t slotAt(const Entry& e, uint32_t i) const {
    return e.pages.empty() ? e.few[i] : arena(e.pages[i / kPage] * kPage + i % kPage);
  }
  // The slot word of the pair (`conn` record, `pos` in its list) reached through `link`.
  uint32_t& slotOf(uint32_t link, uint32_t conn, uint32_t pos);
  uint32_t newPage(uint32_t index);
  void toArena(uint32_t index);
  uint32_t addWatcher(uint32_t index, uint32_t conn, uint32_t pos);
  // Drops the pair (`conn` record, `pos`) reached through `link`; true when its user has no
  // watcher left (freed).
  bool removeWatcher(uint32_t link, uint32_t conn, uint32_t pos);
  uint32_t connRecord(int32_t fd);
  void freeConn(int32_t fd, uint32_t record);

  std::vector<Entry> entries_;
  std::vector<uint32_t> free_;
  std::unordered_map<std::string, uint32_t> index_;
  std::vector<std::unique_ptr<uint32_t[]>> blocks_;  // arena: (connection record << kListBits) | position
  std::vector<uint32_t> pageOwner_;  // arena page -> entry index
  std::vector<uint32_t> freePages_;
  std::vector<Conn> conns_;          // watching connections' records
  std::vector<uint32_t> freeConns_;
  std::unordered_map<int32_t, uint32_t> byConn_;  // fd -> record
  size_t watches_ = 0;  // (connection, user) pairs
};

}  // namespace webim
