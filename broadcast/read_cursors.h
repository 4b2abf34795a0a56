// Read cursors (docs/architecture.md "Read cursors"): how far each user has read each channel.
// Pure: the requests the hub decodes for them, and the arithmetic of a batch's cursors. The hub
// (broadcast/hub_reads.cpp) reads the positions and the stored cursors, then asks this.
//
// A cursor is monotonic per (user, channel) and never past the channel's last durable seq (what a
// client can have seen): read(seq) sets it to max(cursor, min(seq, last)). Many reads of one key in
// a batch coalesce into one record and one receipt.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace webim::hub {

// `read` (wire::ReadRequest, or the app's read on behalf of a user). Staging fills the outcome.
struct ReadCursorRequest {
  std::string channel;
  std::string user;
  uint64_t seq = 0;
  // Outcome (hub_reads.cpp): the cursor once this request applied; whether it moved it; whether
  // this request carries the batch's receipt for its key (the last one that moved it).
  uint64_t cursor = 0;
  bool advanced = false;
  bool receipt = false;
};

// `unread` (wire::UnreadRequest, or the app's): one count per channel, in order.
struct UnreadRequest {
  std::string user;
  std::vector<std::string> channels;
  std::vector<uint64_t> counts;      // filled by staging
  std::vector<uint64_t> reads;       // the user's cursor per channel
  std::vector<uint64_t> peerReads;   // on a dm: channel the other participant's, else 0
  bool countsWanted = true;          // false: the cursors of a sub reply (counts all 0, not counted)
};

// The other participant of dm:<a>:<b> for `user` (a or b), or "" when `channel` is no dm: of theirs
// or a malformed one (common/channel_rules.h dmPeerOf: the rule that says who may subscribe).
std::string dmPeer(const std::string& channel, const std::string& user);

// A receipt a frontend posts to the reader's inbox hub (wire::ReadReceipt as read_notice): published
// on `user:<user>` at once, like a signal.
struct ReadNoticeRequest {
  std::string channel;
  std::string user;
  uint64_t seq = 0;
};

// The app's replies (docs/protocol.md section 4): {"ok":true,"seq":S} and
// {"ok":true,"unread":{"room:1":3,...}} (channels and counts in the same order).
std::string encodeReadOk(uint64_t cursor);
std::string encodeUnreadOk(const UnreadRequest& unread);

inline uint64_t advanceCursor(uint64_t cursor, uint64_t requested, uint64_t last) {
  const uint64_t clamped = requested < last ? requested : last;
  return clamped > cursor ? clamped : cursor;
}

// The log entries after the cursor: seqs, before the ones that are no message are taken off.
inline uint64_t unreadCount(uint64_t cursor, uint64_t last) { return cursor < last ? last - cursor : 0; }
// The unread messages of `entries` log entries after the cursor, `uncounted` of which are edit or
// delete entries or deleted messages (HistoryStore::countUncounted): never below 0.
inline uint64_t withoutUncounted(uint64_t entries, uint64_t uncounted) {
  return uncounted < entries ? entries - uncounted : 0;
}

// The cursors of one batch: what each key was before it (from the store) and is now.
class BatchCursors {
 public:
  static std::string key(const std::string& channel, const std::string& user) {
    std::string k = channel;
    k.push_back('\0');
    k.append(user);
    return k;
  }
  // The stored value of a key, before the batch (set once per key, before apply()).
  void setStored(const std::string& k, uint64_t stored) { values_.try_emplace(k, Entry{stored, stored}); }
  bool known(const std::string& k) const { return values_.count(k) != 0; }
  uint64_t current(const std::string& k) const {
    auto it = values_.find(k);
    return it == values_.end() ? 0 : it->second.now;
  }
  // Applies a read; returns (cursor now, moved).
  std::pair<uint64_t, bool> apply(const std::string& k, uint64_t requested, uint64_t last) {
    Entry& e = values_[k];
    const uint64_t next = advanceCursor(e.now, requested, last);
    const bool moved = next > e.now;
    e.now = next;
    return {next, moved};
  }
  // The keys whose cursor moved in this batch, with their new values.
  template <class F>
  void forEachMoved(F&& f) const {
    for (const auto& [k, e] : values_) {
      if (e.now > e.stored) f(k, e.now);
    }
  }
  bool moved(const std::string& k) const {
    auto it = values_.find(k);
    return it != values_.end() && it->second.now > it->second.stored;
  }
  void clear() { values_.clear(); }

 private:
  struct Entry {
    uint64_t stored = 0;
    uint64_t now = 0;
  };
  std::unordered_map<std::string, Entry> values_;
};

}  // namespace webim::hub
