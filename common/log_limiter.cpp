#include "common/log_limiter.h"

#include <algorithm>

namespace webim {

namespace {
constexpr uint64_t kMilli = 1000;  // thousandths of a line per line
}  // namespace

LogLimiter::LogLimiter(uint32_t perSecond, uint32_t burst) noexcept : perSecond_(perSecond), burst_(burst) {
  for (Bucket& b : buckets_) b.tokensMilli = uint64_t{burst_} * kMilli;  // full from the start
}

bool LogLimiter::admit(LogEvent event, uint64_t nowMs) noexcept {
  Bucket& b = buckets_[static_cast<size_t>(event)];
  if (nowMs > b.refillMs) {
    // ms * lines/s = thousandths of a line; capped before the multiplication can overflow.
    const uint64_t elapsed = std::min<uint64_t>(nowMs - b.refillMs, uint64_t{burst_} * kMilli + kMilli);
    b.tokensMilli = std::min<uint64_t>(uint64_t{burst_} * kMilli, b.tokensMilli + elapsed * perSecond_);
    b.refillMs = nowMs;
  }
  if (b.tokensMilli < kMilli) {
    ++b.suppressed;
    return false;
  }
  b.tokensMilli -= kMilli;
  return true;
}

std::vector<LogLimiter::Suppressed> LogLimiter::takeSuppressed() {
  std::vector<Suppressed> out;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    if (buckets_[i].suppressed == 0) continue;
    out.push_back({static_cast<LogEvent>(i), buckets_[i].suppressed});
    buckets_[i].suppressed = 0;
  }
  return out;
}

}  // namespace webim
