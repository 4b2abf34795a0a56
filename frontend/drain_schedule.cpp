#include "frontend/drain_schedule.h"

#include <algorithm>
#include <random>

#include "common/mix64.h"

namespace webim {

DrainSchedule::DrainSchedule(std::vector<int> ids, uint64_t startMs, uint64_t windowMs, uint64_t seed)
    : order_(std::move(ids)), startMs_(startMs), windowMs_(windowMs), seed_(seed) {
  std::mt19937_64 engine(seed);
  std::shuffle(order_.begin(), order_.end(), engine);
}

uint64_t DrainSchedule::dueMs(size_t i) const noexcept {
  const uint64_t n = order_.size();
  if (windowMs_ == 0 || n == 0) return startMs_;
  // u_i in [0, 1) with 20 bits, from the seed and the slot: (i + u_i) * window / n, in fixed point.
  constexpr uint64_t kOne = uint64_t{1} << 20;
  const uint64_t u = mix64(seed_ ^ mix64(i + 1)) & (kOne - 1);
  const unsigned __int128 scaled = (static_cast<unsigned __int128>(i) * kOne + u) * windowMs_ / (n * kOne);
  return startMs_ + static_cast<uint64_t>(scaled);
}

}  // namespace webim
