// The read cursors a `sub` reply carries (docs/protocol.md "Read cursors and receipts"; design:
// docs/architecture.md "Read cursors"): `"read":S`, and on a dm: channel `"peer_read":S`.
// One UnreadRequest per shard per sub request (a batch of 256 channels included), started with the
// request; each of its joins waits for it (within hub_timeout_ms) before it goes on. The join is
// registered at once (an unsub meanwhile behaves as before), and its answer and the replay behind
// it go out together later, so nothing is reordered. Nothing is kept per connection: the table
// belongs to the frontend and an entry lives until every channel of its request is answered.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "frontend/task.h"

namespace webim {

class CursorWait;

struct SubCursors {
  bool done = false;        // the fetch ended (answered, failed or timed out)
  size_t unanswered = 0;    // channels of the request not answered yet
  uint64_t createdMs = 0;
  std::unordered_map<std::string, std::pair<uint64_t, uint64_t>> values;  // channel -> (read, peer_read)
  std::vector<CursorWait*> waiters;
};

// A join waiting for its sub request's cursors; ready at once when there is nothing to wait for.
class CursorWait final : public PendingOp {
 public:
  CursorWait(std::shared_ptr<SubCursors> cursors, PendingOp*& ownerList, TimerWheel& wheel, uint64_t deadlineMs);
  bool await_ready() const noexcept { return !linked_; }
  WaitStatus await_resume() const noexcept { return linked_ ? status_ : WaitStatus::Done; }
  void finish() { complete(WaitStatus::Done); }

 private:
  void detach() noexcept override;
  std::shared_ptr<SubCursors> cursors_;
  bool linked_ = false;
};

// The sub requests in flight, by (connection serial, request id).
class SubCursorTable {
 public:
  // A new entry for a request of `entries` channels; nullptr when that key is in use (a client
  // reusing an id: its replies go without cursors). Entries older than kMaxAgeMs (those of a
  // connection that closed) are dropped by a sweep every kMaxAgeMs / 4.
  std::shared_ptr<SubCursors> start(uint32_t serial, int64_t id, size_t entries, uint64_t nowMs);
  std::shared_ptr<SubCursors> find(uint32_t serial, int64_t id) const;
  // One channel of the request is answered: the entry goes with the last one.
  void answered(uint32_t serial, int64_t id);
  size_t size() const noexcept { return table_.size(); }

  static constexpr uint64_t kMaxAgeMs = 120000;

 private:
  std::map<std::pair<uint32_t, int64_t>, std::shared_ptr<SubCursors>> table_;
  uint64_t nextSweepMs_ = 0;
};

// Ends the fetch: every join still waiting goes on.
void finishSubCursors(SubCursors& cursors);

}  // namespace webim
