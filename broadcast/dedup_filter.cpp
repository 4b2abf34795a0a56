#include "broadcast/dedup_filter.h"

#include <utility>

#include "common/mix64.h"

namespace webim::hub {

uint64_t dedupKeyHash(std::string_view from, std::string_view cid) {
  // FNV-1a over from '\0' cid, then mixed.
  uint64_t h = 0xcbf29ce484222325ull;
  auto eat = [&h](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  };
  eat(from);
  h = (h ^ 0) * 0x100000001b3ull;
  eat(cid);
  return mix64(h);
}

void GrowingBloom::add(uint64_t h) {
  if (parts_.empty() || parts_.back().count >= parts_.back().capacity)
    parts_.emplace_back(parts_.empty() ? kFirstCapacity : parts_.back().capacity * 2);
  parts_.back().add(h);
}

bool GrowingBloom::mayContain(uint64_t h) const {
  for (const Part& p : parts_)
    if (p.mayContain(h)) return true;
  return false;
}

void GrowingBloom::Part::add(uint64_t h) {
  const uint64_t n = bits.size() * 64, step = (h >> 32) | 1;
  for (int i = 0; i < kHashes; ++i, h += step) bits[(h % n) / 64] |= 1ull << ((h % n) % 64);
  ++count;
}

bool GrowingBloom::Part::mayContain(uint64_t h) const {
  const uint64_t n = bits.size() * 64, step = (h >> 32) | 1;
  for (int i = 0; i < kHashes; ++i, h += step)
    if (!(bits[(h % n) / 64] & (1ull << ((h % n) % 64)))) return false;
  return true;
}

void DedupFilter::reset(int64_t nowMs) {
  previous_ = GrowingBloom();
  current_ = GrowingBloom();
  currentSince_ = nowMs;
}

void DedupFilter::add(uint64_t h, int64_t nowMs) {
  rotate(nowMs);
  current_.add(h);
}

bool DedupFilter::mayContain(uint64_t h, int64_t nowMs) {
  rotate(nowMs);
  return current_.mayContain(h) || previous_.mayContain(h);
}

void DedupFilter::rotate(int64_t nowMs) {
  if (nowMs - currentSince_ <= ttlMs_ + kSlackMs) return;
  previous_ = std::move(current_);
  current_ = GrowingBloom();
  currentSince_ = nowMs;
}

}  // namespace webim::hub
