// What this frontend tells the hubs about its presence channels (docs/architecture.md "Channel
// presence"). Pure: the frontend notes each live subscriber that comes and goes, and sends what
// take() returns at the end of the loop iteration.
//
//  - Per channel: the live connections here (absolute) and the users with at least one of them.
//  - take() reduces a loop iteration's changes to the net change per user (a user whose only
//    connection reconnected within the iteration is no change) and chunks them per shard to at
//    most `maxChunkBytes` of ids (as InboxAttacher does).
//  - resend(shard): the shard's hub restarted (new boot id): everything held there goes out again,
//    as joins; leaves it never heard of are dropped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace webim {

class ChannelPresenceReporter {
 public:
  struct Change {
    std::string channel;
    uint32_t connections = 0;
    std::vector<std::string> join;
    std::vector<std::string> leave;
  };
  struct Chunk {
    size_t shard = 0;
    std::vector<Change> changes;
  };

  explicit ChannelPresenceReporter(size_t maxChunkBytes = 32 * 1024) : maxChunkBytes_(maxChunkBytes) {}

  // A connection of `user` became a live subscriber of `channel` (owned by `shard`), or left it.
  void joined(size_t shard, std::string_view channel, std::string_view user);
  void left(std::string_view channel, std::string_view user);
  void resend(size_t shard);
  bool due() const noexcept { return !dirty_.empty(); }
  std::vector<Chunk> take();

  size_t channels() const noexcept { return channels_.size(); }

 private:
  struct User {
    uint32_t connections = 0;
    bool reported = false;  // the hub was told this user joined
  };
  struct Channel {
    size_t shard = 0;
    uint32_t connections = 0;
    std::unordered_map<std::string, User> users;
    std::unordered_set<std::string> changed;
  };

  void markDirty(const std::string& name, Channel& channel);
  Change reduce(const std::string& name, Channel& channel);

  size_t maxChunkBytes_;
  std::unordered_map<std::string, Channel> channels_;
  std::vector<std::string> dirty_;  // channels with changes not yet taken
};

}  // namespace webim
