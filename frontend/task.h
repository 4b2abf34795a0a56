// The one coroutine type of the frontend, and the base of everything a coroutine can wait on.
//
// Request/response flows read top to bottom (docs/architecture.md, "Fine-grained timeouts"):
//
//   Task Connection::publish(...) {
//     HubCall call(hub, *this, std::move(request), deadline);
//     HubResult result = co_await call;          // named awaitable only (g++ 12)
//     if (result.status == WaitStatus::Cancelled) co_return;   // connection gone: touch nothing
//     ...
//   }
//
// A Task starts eagerly and destroys its own frame when it finishes; nobody awaits it. Every wait
// (PendingOp) has a deadline in the loop's timer wheel and is linked into its connection, so closing
// the connection resumes it with Cancelled before the connection's memory is freed.
#pragma once

#include <coroutine>
#include <exception>

#include "common/timer_wheel.h"

namespace webim {

struct Task {
  struct promise_type {
    Task get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    // Our coroutines do not throw; an exception escaping one is a bug.
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

enum class WaitStatus { Done, TimedOut, Cancelled, Failed };

// Something a coroutine waits on. Linked into its owner's intrusive list so the owner can cancel
// every wait when it closes. Subclasses implement detach(): unlink from wherever else they are
// registered (the hub's request map, a channel's join list) without resuming.
class PendingOp {
 public:
  PendingOp() = default;
  PendingOp(const PendingOp&) = delete;
  PendingOp& operator=(const PendingOp&) = delete;
  virtual ~PendingOp() = default;

  // Finishes the wait with `status` and resumes the coroutine. Must be called at most once. A wait
  // that completes before it is awaited (one of several calls made at once: shard_asks.h) keeps its
  // status; its co_await then does not suspend (the subclass's await_ready says completed()).
  void complete(WaitStatus status) {
    detach();
    unlinkFromOwner();
    if (wheel_ != nullptr) wheel_->cancel(deadline_);
    completed_ = true;
    status_ = status;
    std::coroutine_handle<> handle = handle_;
    handle_ = nullptr;
    if (handle) handle.resume();
  }

  void linkToOwner(PendingOp*& head) {
    ownerHead_ = &head;
    next_ = head;
    prev_ = nullptr;
    if (head != nullptr) head->prev_ = this;
    head = this;
  }

  void armDeadline(TimerWheel& wheel, uint64_t deadlineMs) {
    wheel_ = &wheel;
    deadline_.op = this;
    deadline_.fire = [](TimerNode* node) { static_cast<DeadlineNode*>(node)->op->complete(WaitStatus::TimedOut); };
    wheel.schedule(deadline_, deadlineMs);
  }

  // Resumes every wait in the owner's list with Cancelled (the owner is closing).
  static void cancelAll(PendingOp*& head) {
    while (head != nullptr) head->complete(WaitStatus::Cancelled);
  }

  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> handle) noexcept { handle_ = handle; }

 protected:
  virtual void detach() noexcept = 0;
  bool completed() const noexcept { return completed_; }
  // For a subclass's destructor: a wait destroyed before it completed (its coroutine finished while
  // it was never awaited) leaves its owner's list and the timer wheel without resuming anything.
  void abandon() noexcept {
    unlinkFromOwner();
    if (wheel_ != nullptr) wheel_->cancel(deadline_);
    wheel_ = nullptr;
  }
  WaitStatus status_ = WaitStatus::Failed;
  bool completed_ = false;

 private:
  void unlinkFromOwner() noexcept {
    if (ownerHead_ == nullptr) return;
    if (prev_ != nullptr) {
      prev_->next_ = next_;
    } else {
      *ownerHead_ = next_;
    }
    if (next_ != nullptr) next_->prev_ = prev_;
    ownerHead_ = nullptr;
    prev_ = next_ = nullptr;
  }

  PendingOp** ownerHead_ = nullptr;
  PendingOp* prev_ = nullptr;
  PendingOp* next_ = nullptr;
  struct DeadlineNode : TimerNode {
    PendingOp* op = nullptr;
  };
  TimerWheel* wheel_ = nullptr;
  DeadlineNode deadline_;
  std::coroutine_handle<> handle_;
};

// Waits until `untilMs` (TimedOut), or until its owner cancels it: a retry's pause.
class Sleep final : public PendingOp {
 public:
  Sleep(PendingOp*& owner, TimerWheel& wheel, uint64_t untilMs) {
    linkToOwner(owner);
    armDeadline(wheel, untilMs);
  }
  WaitStatus await_resume() const noexcept { return status_; }

 private:
  void detach() noexcept override {}
};

}  // namespace webim
