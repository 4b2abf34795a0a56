// One request per shard, asked in parallel (docs/architecture.md "Asking every shard"): the frontend
// splits a list (channels, user ids) by the hub that owns each item, sends every shard's request at
// once under one deadline, and the caller merges the answers into the list's order.
//
//   ShardAsks asks(n, [&](size_t i) -> HubLink& { return frontend().hubFor(channels[i]); });
//   for (size_t k = 0; k < asks.size(); ++k) { ... fill asks.request(k) from asks.items(k) ... }
//   asks.send(pending_, deadlineMs);
//   for (size_t k = 0; k < asks.size(); ++k) {
//     HubCall& call = asks.call(k);              // named: g++ 12 copies an unnamed awaitable
//     HubResult r = co_await call;               // the others may have answered meanwhile
//     if (r.status == WaitStatus::Cancelled) co_return;
//     ... r.reply answers asks.items(k), in that order ...
//   }
//
// The object lives in the coroutine's frame: returning early (an error, a cancel) destroys the calls
// not awaited, which forget their requests (HubCall's destructor); their late replies are dropped.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "frontend/hub_link.h"

namespace webim {

class ShardAsks {
 public:
  // Groups items 0..n-1 by hubOf(i), the hubs in the order of their first item.
  ShardAsks(size_t n, const std::function<HubLink&(size_t)>& hubOf);

  size_t size() const noexcept { return shards_.size(); }
  HubLink& hub(size_t k) const noexcept { return *shards_[k].hub; }
  // The indexes of shard k's items, in the list's order: the order its request names them.
  const std::vector<size_t>& items(size_t k) const noexcept { return shards_[k].items; }
  wire::FrontendRequest& request(size_t k) noexcept { return shards_[k].request; }

  // Sends every shard's request now; each call has `deadlineMs` and is cancelled with its owner.
  void send(PendingOp*& owner, uint64_t deadlineMs);
  // Shard k's call, to co_await (after send()).
  HubCall& call(size_t k) noexcept { return *shards_[k].call; }

 private:
  struct Shard {
    HubLink* hub = nullptr;
    std::vector<size_t> items;
    wire::FrontendRequest request;
    std::unique_ptr<HubCall> call;
  };
  std::vector<Shard> shards_;
};

}  // namespace webim
