// A latency histogram for Prometheus: fixed buckets, O(1) observe with no allocation (a bit_width
// picks the bucket), rendered as the cumulative `_bucket{le=...}` / `_sum` / `_count` series.
// Bucket i holds values <= kFirstBoundUs * 2^i microseconds (100 us ... 3.3 s), the last one
// everything above (+Inf). Pure: no clock inside; the caller measures and observes.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <string>
#include <string_view>

namespace webim {

class LatencyHistogram {
 public:
  static constexpr uint64_t kFirstBoundUs = 100;
  static constexpr size_t kBounds = 16;  // finite buckets; one more for +Inf

  // The bucket `micros` falls in: the first whose bound is >= micros (kBounds for +Inf).
  static constexpr size_t bucketOf(uint64_t micros) noexcept {
    if (micros <= kFirstBoundUs) return 0;
    size_t index = static_cast<size_t>(std::bit_width((micros - 1) / kFirstBoundUs));
    return index < kBounds ? index : kBounds;
  }
  // The upper bound of bucket i in microseconds (i < kBounds).
  static constexpr uint64_t boundUs(size_t i) noexcept { return kFirstBoundUs << i; }

  void observe(uint64_t micros) noexcept {
    counts_[bucketOf(micros)]++;
    sumUs_ += micros;
    count_++;
  }
  void observeNs(uint64_t nanos) noexcept { observe(nanos / 1000); }

  uint64_t count() const noexcept { return count_; }
  uint64_t sumUs() const noexcept { return sumUs_; }
  // Observations in bucket i alone (not cumulative).
  uint64_t inBucket(size_t i) const noexcept { return counts_[i]; }

  // Appends `# HELP`, `# TYPE` and the series of `name` (seconds), each with `labels` (may be
  // empty; without braces: `frontend="fe1"`).
  void render(std::string& out, std::string_view name, std::string_view help, std::string_view labels) const;
  // Only the series (for a second label set under one HELP/TYPE).
  void renderSeries(std::string& out, std::string_view name, std::string_view labels) const;

 private:
  std::array<uint64_t, kBounds + 1> counts_{};
  uint64_t sumUs_ = 0;
  uint64_t count_ = 0;
};

}  // namespace webim
