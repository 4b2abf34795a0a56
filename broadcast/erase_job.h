// Erasing a user (docs/protocol.md "Erasing a user"): the hub's background jobs that remove the
// data of every message one sender wrote, through the stores' per-sender index
// (HistoryStore::eraseSender), a bounded slice between batches so publishes are not held up.
// Pure: the job list, its progress and its persisted form; the hub (hub_erase.cpp) runs the slices
// and keeps the list in the store (HistoryStore::storeValue), so a restarted hub resumes.
//
// A job erases what the index lists while it runs: messages the user publishes meanwhile may or may
// not be caught (kick the user first). Live subscribers are told nothing (no delete entries are
// appended); `hist` returns the messages as {"deleted":true} without data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace webim::hub {

class EraseJobs {
 public:
  static constexpr size_t kMaxRunning = 1000;  // jobs running at once (more: too_large)
  static constexpr size_t kMaxDone = 1000;     // finished jobs remembered for erase_status (the oldest go)

  enum class State { None, Running, Done };
  struct Status {
    State state = State::None;
    uint64_t erased = 0;  // messages whose data this job removed (at least: a restart may lose a few counts)
  };

  // A user id the jobs can hold: 1..128 bytes, no NUL, tab or line break.
  static bool validUser(std::string_view user);
  // Starts a job for `user` (a running one goes on; a done one starts again). False when
  // kMaxRunning jobs run already.
  bool start(const std::string& user);
  bool empty() const noexcept { return queue_.empty(); }
  // The job the next slice works on (round robin over the running jobs); nullptr when none runs.
  const std::string* next() const { return queue_.empty() ? nullptr : &queue_.front(); }
  // The slice of next() erased `erased` messages; `more`: it hit its limit (the job goes on, behind
  // the other running jobs), else the job is done.
  void progress(uint64_t erased, bool more);
  Status status(const std::string& user) const;

  // The running jobs as text ("user\terased\n" each), and back (lines that do not parse are skipped).
  std::string serialize() const;
  static EraseJobs parse(std::string_view text);

 private:
  std::deque<std::string> queue_;                    // running, in round-robin order
  std::unordered_map<std::string, Status> jobs_;     // running and remembered done ones
  std::deque<std::string> done_;                     // finished, oldest first
};

// {"ok":true,"user":U,"state":"running"|"done"|"none","erased":N[,"remaining":M]}; remaining
// (messages of U still indexed, counted up to a cap) when known.
std::string encodeEraseStatus(std::string_view user, const EraseJobs::Status& status, std::optional<uint64_t> remaining);

}  // namespace webim::hub
