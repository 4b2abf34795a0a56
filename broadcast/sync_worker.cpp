#include "broadcast/sync_worker.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <system_error>

namespace webim::hub {

SyncWorker::SyncWorker(std::function<void()> sync) : sync_(std::move(sync)) {
  eventFd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (eventFd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  thread_ = std::thread([this] { run(); });
}

SyncWorker::~SyncWorker() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
  close(eventFd_);
}

void SyncWorker::request(uint64_t ticket) {
  {
    std::lock_guard lock(mutex_);
    if (ticket <= requested_) return;
    requested_ = ticket;
  }
  wake_.notify_one();
}

void SyncWorker::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    // After a failure nothing more is synced until the loop took it: `durable` in a result is
    // always what was durable before the failure.
    wake_.wait(lock, [this] { return stop_ || (failed_ == 0 && requested_ > durable_); });
    if (failed_ != 0 || requested_ <= durable_) return;  // stopping
    const uint64_t target = requested_;
    busy_ = true;
    lock.unlock();
    std::string error;
    try {
      sync_();
    } catch (const std::exception& e) {
      error = e.what();
      if (error.empty()) error = "sync failed";
    }
    lock.lock();
    busy_ = false;
    ++syncs_;
    if (error.empty()) {
      durable_ = target;
    } else {
      failed_ = target;
      error_ = std::move(error);
    }
    signal();
    settled_.notify_all();
  }
}

// Under mutex_: the eventfd first, then the count take() looks at (so a take() that sees the count
// drains this write).
void SyncWorker::signal() {
  const uint64_t one = 1;
  // EAGAIN only when the counter is saturated: it is readable then anyway.
  [[maybe_unused]] ssize_t n = ::write(eventFd_, &one, sizeof one);
  signals_.fetch_add(1, std::memory_order_release);
}

SyncWorker::Result SyncWorker::take() {
  const uint64_t signals = signals_.load(std::memory_order_acquire);
  if (signals == seen_) return Result{last_.durable, 0, {}};
  seen_ = signals;
  uint64_t count = 0;
  [[maybe_unused]] ssize_t n = ::read(eventFd_, &count, sizeof count);  // EAGAIN: read already
  std::unique_lock lock(mutex_);
  Result result{durable_, failed_, error_};
  last_ = result;
  if (failed_ != 0) {
    // Taken: the loop fails the batches in flight; the thread goes on with later tickets.
    durable_ = std::max(durable_, failed_);
    requested_ = std::max(requested_, failed_);
    failed_ = 0;
    error_.clear();
    lock.unlock();
    wake_.notify_one();
  }
  return result;
}

SyncWorker::Result SyncWorker::wait(uint64_t durable) {
  {
    std::unique_lock lock(mutex_);
    settled_.wait(lock, [&] { return durable_ > durable || failed_ != 0 || (!busy_ && requested_ <= durable_); });
  }
  return take();
}

void SyncWorker::waitIdle() {
  std::unique_lock lock(mutex_);
  settled_.wait(lock, [this] { return !busy_ && requested_ <= std::max(durable_, failed_); });
}

uint64_t SyncWorker::syncs() const {
  std::lock_guard lock(mutex_);
  return syncs_;
}

}  // namespace webim::hub
