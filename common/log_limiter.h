// The rate limit of event lines (log_event.h): one token bucket per kind (kLogLinesPerSecond on
// average, kLogLinesBurst at once), so 100,000 bad tokens make a bounded number of lines. What is
// over the bucket is counted, and the count is written later as one line per kind
// (`event=log_suppressed kind=<event> suppressed=N`, common/program/logging.cpp, every second).
// Pure: the caller passes the time; the state is a fixed array.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "common/log_event.h"

namespace webim {

inline constexpr uint32_t kLogLinesPerSecond = 10;
inline constexpr uint32_t kLogLinesBurst = 50;

class LogLimiter {
 public:
  explicit LogLimiter(uint32_t perSecond = kLogLinesPerSecond, uint32_t burst = kLogLinesBurst) noexcept;

  // One line of `event` at `nowMs` (a monotonic clock): true to write it, false when its bucket is
  // empty (the line is counted as suppressed).
  bool admit(LogEvent event, uint64_t nowMs) noexcept;

  struct Suppressed {
    LogEvent event;
    uint64_t count;
  };
  // The lines suppressed since the last call, per kind that had any; their counts start again at 0.
  std::vector<Suppressed> takeSuppressed();

 private:
  struct Bucket {
    uint64_t refillMs = 0;
    uint64_t tokensMilli = 0;  // thousandths of a line
    uint64_t suppressed = 0;
  };
  uint32_t perSecond_;
  uint32_t burst_;
  std::array<Bucket, kLogEventCount> buckets_{};
};

}  // namespace webim
