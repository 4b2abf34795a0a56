// Which users' inboxes (`user:<id>`) the hubs must route to this frontend, and the requests that get
// them there (docs/architecture.md "Routed inboxes"). Pure: the frontend sends what take() returns
// and reports each attach's outcome.
//
//  - Changes are collected during a loop iteration and reduced to the net change per user: an inbox
//    that appeared and went in one iteration ([auth][sub user:u][close] in one TCP write) is one
//    detach, never a detach followed by an attach.
//  - Requests are chunked to at most `maxChunkBytes` of user ids (a hub answers requests up to 128
//    KiB by default; 18,000 users with 7-digit ids are ~180 KB), so a re-attach of every inbox after
//    a hub restart is many small acknowledged requests, never one the hub cannot take.
//  - An attach that is not acknowledged (timeout, store error, id conflict) is tried again after a
//    backoff (jittered, doubling up to `retryMaxMs`) for the users still held then, until it holds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_set>
#include <vector>

namespace webim {

class InboxAttacher {
 public:
  struct Options {
    size_t maxChunkBytes = 32 * 1024;  // of user ids per Attach/Detach
    uint64_t retryMinMs = 200;
    uint64_t retryMaxMs = 5000;
  };
  struct Chunk {
    size_t shard = 0;
    bool attach = true;  // else a detach
    std::vector<std::string> users;
    bool synced = false;  // presence: the last chunk of a full re-attach (wire::Attach.synced)
  };
  using Random = std::function<uint64_t()>;
  // `held(shard, user)`: whether this frontend holds that inbox now.
  using Held = std::function<bool(size_t shard, const std::string& user)>;

  InboxAttacher(size_t shards, Options options, Random random);

  // `user`'s inbox appeared here or went away; the net change goes out with the next take().
  void changed(size_t shard, std::string user);
  // An attach was not acknowledged: its users (those still held then) are tried again after the
  // shard's backoff, which doubles.
  void failed(size_t shard, std::vector<std::string> users, uint64_t nowMs);
  // An attach was acknowledged: the shard's backoff starts from the minimum again.
  void succeeded(size_t shard);
  // The requests to send now: an attach for every changed user that is held and every user due
  // for a retry that is still held, a detach for every changed user that is not.
  std::vector<Chunk> take(uint64_t nowMs, const Held& held);
  // Whether take() has something to send now.
  bool due(uint64_t nowMs) const;
  // The earliest retry still waiting (UINT64_MAX: none).
  uint64_t nextRetryMs() const;

 private:
  struct Shard {
    std::unordered_set<std::string> changed;
    std::unordered_set<std::string> retry;
    uint64_t retryAtMs = 0;
    uint64_t backoffMs = 0;  // the next failure's wait (0: the minimum)
  };
  Options options_;
  Random random_;
  std::vector<Shard> shards_;
  size_t changedCount_ = 0;  // users in every shard's `changed`
};

}  // namespace webim
