// The hub's sync thread (docs/architecture.md "Pipelined group commit"): the hub's loop writes a
// batch (HistoryStore::write), asks for its sync with the batch's ticket, and goes on staging the
// next batches while this thread waits for stable storage. One sync covers every ticket asked for
// before it started (the batches written meanwhile share the next one: group commit across
// batches). Results are reported in ticket order through an eventfd the loop polls. After a failed
// sync the thread syncs nothing more until the failure is taken.
//
// After a failed sync the loop fails every batch in flight and calls waitIdle() before anything
// else touches the store (a recovery must not run beside a sync).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace webim::hub {

class SyncWorker {
 public:
  // sync: makes every write made before the call durable; throws std::exception on failure.
  explicit SyncWorker(std::function<void()> sync);
  ~SyncWorker();  // finishes the sync under way, then joins
  SyncWorker(const SyncWorker&) = delete;
  SyncWorker& operator=(const SyncWorker&) = delete;

  // Asks for every write up to `ticket` (tickets increase) to be made durable.
  void request(uint64_t ticket);

  struct Result {
    uint64_t durable = 0;  // every ticket <= durable is durable
    uint64_t failed = 0;   // 0, or the ticket of a failed sync (the tickets above `durable` are lost)
    std::string error;
  };
  // The results so far (clears a failure once taken); never blocks, and costs one atomic load
  // when nothing is new.
  Result take();
  // Blocks until a result newer than `durable` (or a failure) is there, then take()s it.
  Result wait(uint64_t durable);
  // Blocks until no sync is under way or asked for (after a failure, once taken: before the store
  // recovers).
  void waitIdle();
  // Readable while a result has not been taken (for zmq_poll).
  int fd() const noexcept { return eventFd_; }
  // Syncs done (for stats).
  uint64_t syncs() const;

 private:
  void run();
  void signal();

  std::function<void()> sync_;
  int eventFd_ = -1;
  mutable std::mutex mutex_;
  std::condition_variable wake_;     // the thread: a request or stop
  std::condition_variable settled_;  // waiters: a result or idle
  uint64_t requested_ = 0;
  uint64_t durable_ = 0;
  uint64_t failed_ = 0;
  std::string error_;
  bool busy_ = false;
  bool stop_ = false;
  uint64_t syncs_ = 0;
  std::atomic<uint64_t> signals_{0};  // results published; take() is free while none is new
  uint64_t seen_ = 0;                 // the loop's: signals_ at its last take()
  Result last_;                       // the loop's: what its last take() returned
  std::thread thread_;  // last: started once the rest is ready
};

}  // namespace webim::hub
