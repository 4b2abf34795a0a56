// The drain (SIGTERM or SIGINT; docs/deploy.md "Stopping, draining, reloading"). From the first
// moment draining() is true (/readyz fails). The connections already in the listener's queue are
// accepted (with SO_REUSEPORT, closing a listener resets what is queued on it, unless
// net.ipv4.tcp_migrate_req moves it to another listener of the port), then the listener is closed.
// Every connection is then sent away at its time of the DrainSchedule, spread over
// drain_window_ms: a WebSocket gets close 1012 (the client reconnects elsewhere and resumes with
// `since`), an event stream ends, a long-poll is answered. The hub links stay up until the end, so
// nothing in flight is lost. The process exits 0 once every connection is gone, or at the end of
// the window plus kFinalGraceMs (close_timeout_ms if shorter) for the last close handshakes.
#include "frontend/drain.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <random>

#include "frontend/connection.h"
#include "frontend/frontend.h"

namespace webim {

namespace {

constexpr int kMaxAcceptSweeps = 256;  // batches of the listen queue accepted at the drain's start
constexpr uint64_t kWaitingRecheckMs = 50;
// After the window: the last close handshakes get this long (or close_timeout_ms if shorter). A
// restart is stop-then-start, and clients reconnecting meanwhile find nobody listening here.
constexpr uint64_t kFinalGraceMs = 1000;

uint64_t randomSeed() {
  std::random_device device;
  return (uint64_t{device()} << 32) | device();
}

}  // namespace

void Frontend::startDrain() {
  if (stopping_) {
    // A second signal: whoever is left goes now (the operator is in a hurry).
    if (drain_ && (!drain_->schedule.done() || !drain_->waiting.empty())) {
      spdlog::info("second signal: sending the remaining {} connections away now", metrics_.connectionsOpen);
      drain_->schedule = DrainSchedule(sockets_.fds(), nowMs(), 0, 0);
      drainStep();
    }
    return;
  }
  draining_ = true;
  // Accept what is queued (before stopping_, which ends every accept loop), then close.
  const uint64_t openBefore = metrics_.connectionsOpen;
  if (accepting_) {
    for (int i = 0; i < kMaxAcceptSweeps && !acceptPending(); ++i) {
    }
  }
  const uint64_t swept = metrics_.connectionsOpen > openBefore ? metrics_.connectionsOpen - openBefore : 0;
  stopping_ = true;
  wheel_.cancel(acceptPause_);
  wheel_.cancel(inboxRetry_);
  wheel_.cancel(acceptStart_);
  uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  ::close(listenFd_);
  if (reserveFd_ >= 0) ::close(reserveFd_);

  const uint64_t now = nowMs();
  drain_ = std::make_unique<DrainState>();
  drain_->frontend = this;
  drain_->fire = [](TimerNode* node) { static_cast<DrainState*>(node)->frontend->drainStep(); };
  drain_->schedule = DrainSchedule(sockets_.fds(), now, config_.drainWindowMs, randomSeed());
  spdlog::info("draining: {} connections sent away over {} ms ({} taken from the listen queue{})",
               drain_->schedule.size(), config_.drainWindowMs, swept, accepting_ ? "" : "; not accepting yet");
  shutdownTimer_.fire = [](TimerNode* node) { static_cast<ShutdownTimer*>(node)->frontend->finishStop(); };
  // The window, then a short grace for the last close handshakes; at once when nobody is here.
  const bool empty = metrics_.connectionsOpen == metrics_.privateOpen;  // no browser to send away
  const uint64_t grace = std::min<uint64_t>(config_.closeTimeoutMs, kFinalGraceMs);
  wheel_.schedule(shutdownTimer_, empty ? now : now + config_.drainWindowMs + grace);
  drainStep();
}

// Sends away whoever is due, and whoever was due during the HTTP exchange and is now upgraded.
void Frontend::drainStep() {
  DrainState& drain = *drain_;
  wheel_.cancel(drain);
  auto sendAway = [this](int fd) {
    Connection* connection = sockets_.find(fd);
    if (connection == nullptr || !connection->open()) return true;  // gone, or closing already
    // The private listener stays open to the end (/readyz says "draining"); its exchanges are not
    // browsers to send away (and an fd a browser left may now be one of them).
    if (connection->onPrivateListener()) return true;
    if (connection->inHttpExchange()) return false;  // its answer (or its upgrade) first
    connection->close(1012, "service restart");
    return true;
  };
  std::erase_if(drain.waiting, sendAway);
  drain.schedule.takeDue(nowMs(), [&](int fd) {
    if (!sendAway(fd)) drain.waiting.push_back(fd);
  });
  if (!drain.schedule.done()) {
    wheel_.schedule(drain, drain.schedule.nextDueMs());
  } else if (!drain.waiting.empty()) {
    wheel_.schedule(drain, nowMs() + kWaitingRecheckMs);
  }
}

void Frontend::finishStop() {
  if (drain_) wheel_.cancel(*drain_);
  size_t left = 0;
  for (Connection* c : sockets_.all()) {
    c->destroy();
    ++left;
  }
  spdlog::info("drained{}", left == 0 ? std::string() : fmt::format(" ({} connections still closing dropped)", left));
  sockets_.close();
  for (auto& hub : hubs_) hub->close();
  for (uv_signal_t* signal : {&sigint_, &sigterm_, &sighup_}) uv_close(reinterpret_cast<uv_handle_t*>(signal), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&check_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&flushIdle_), nullptr);
  adminListener_.close();  // last: /readyz answered "draining" until now
}

}  // namespace webim
