// When a catch-up read is tried again (docs/architecture.md, "Joining a channel" and "Gap filling"):
// a history read that fills a gap, recovers a `sub`'s `since` or asks a joiner's position, answered
// `unavailable` (the store cannot read now: PostgreSQL down or reconnecting, RocksDB undoing a batch
// whose WAL sync failed) or not answered in time. Such a read is retried after a jittered backoff
// (kFirstMs doubling up to kMaxMs, each wait in [d/2, d)) for as long as the budget (the frontend's
// hub_timeout_ms) lasts from the first failure; only then does the caller give up as before (a
// `resync`, `recovered:false`). Any other answer (bad_request, wrong_shard) is final. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/backoff.h"
#include "common/mix64.h"

namespace webim {

class ReadRetry {
 public:
  static constexpr uint64_t kFirstMs = 50;
  static constexpr uint64_t kMaxMs = 1000;

  // `seed` spreads the retries of many readers failing at once (any value; 0 is fine).
  ReadRetry(uint64_t budgetMs, uint64_t seed) : budgetMs_(budgetMs), state_(seed) {}

  // Whether a read that ended so is worth trying again: no answer in time (`answered` false), or
  // the hub's error `code` is `unavailable`.
  static bool retryable(bool answered, std::string_view code) noexcept { return !answered || code == "unavailable"; }

  // A read failed at `nowMs`: the pause before the next try, or nullopt once the budget (counted
  // from the first failure) would be spent by then.
  std::optional<uint64_t> next(uint64_t nowMs) noexcept {
    if (!failing_) {
      failing_ = true;
      firstFailureMs_ = nowMs;
      delayMs_ = 0;  // kFirstMs
    }
    const uint64_t wait = jitteredBackoff(delayMs_, kFirstMs, kMaxMs, random());
    if (nowMs + wait > firstFailureMs_ + budgetMs_) return std::nullopt;
    attempts_++;
    return wait;
  }

  // A read succeeded: a later failure starts a new budget from kFirstMs.
  void succeeded() noexcept { failing_ = false; }

  // Retries granted so far (for the metrics).
  uint64_t attempts() const noexcept { return attempts_; }

 private:
  uint64_t random() noexcept { return mix64(state_ += 0x9e3779b97f4a7c15ULL); }  // splitmix64

  uint64_t budgetMs_;
  uint64_t state_;
  uint64_t firstFailureMs_ = 0;
  uint64_t delayMs_ = 0;  // jitteredBackoff's state
  uint64_t attempts_ = 0;
  bool failing_ = false;
};

}  // namespace webim
