#include "common/utf8.h"

#include <cstring>

namespace webim {
namespace {

constexpr uint32_t kFailed = 0xFFFFFFFFu;
constexpr uint64_t kHighBits = 0x8080808080808080ull;

constexpr uint32_t expect(uint32_t remaining, uint32_t lo, uint32_t hi) noexcept {
  return remaining | (lo << 8) | (hi << 16);
}

// State after a lead byte (state must be 0 before it). Returns kFailed for bytes that can never start
// a code point: continuation bytes, C0/C1 (always overlong), F5..FF (beyond U+10FFFF).
constexpr uint32_t afterLead(uint8_t c) noexcept {
  if (c >= 0xC2 && c <= 0xDF) return expect(1, 0x80, 0xBF);
  if (c == 0xE0) return expect(2, 0xA0, 0xBF);  // below A0 would be overlong
  if (c == 0xED) return expect(2, 0x80, 0x9F);  // A0..BF would encode surrogates D800..DFFF
  if (c >= 0xE1 && c <= 0xEF) return expect(2, 0x80, 0xBF);
  if (c == 0xF0) return expect(3, 0x90, 0xBF);  // below 90 would be overlong
  if (c >= 0xF1 && c <= 0xF3) return expect(3, 0x80, 0xBF);
  if (c == 0xF4) return expect(3, 0x80, 0x8F);  // above 8F would exceed U+10FFFF
  return kFailed;
}

}  // namespace

bool Utf8Validator::feed(std::string_view bytes) noexcept {
  if (state_ == kFailed) return false;
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const auto* end = p + bytes.size();
  uint32_t state = state_;
  while (p < end) {
    if (state == 0) {
      // Chat text is mostly ASCII: skip it 8 bytes at a time.
      while (end - p >= 8) {
        uint64_t word;
        std::memcpy(&word, p, sizeof word);
        if (word & kHighBits) break;
        p += 8;
      }
      if (p == end) break;
      const uint8_t c = *p++;
      if (c < 0x80) continue;
      state = afterLead(c);
      if (state == kFailed) break;
      continue;
    }
    const uint8_t c = *p++;
    const uint32_t lo = (state >> 8) & 0xFF;
    const uint32_t hi = (state >> 16) & 0xFF;
    if (c < lo || c > hi) {
      state = kFailed;
      break;
    }
    const uint32_t remaining = (state & 0xFF) - 1;
    state = remaining == 0 ? 0 : expect(remaining, 0x80, 0xBF);
  }
  state_ = state;
  return state != kFailed;
}

bool Utf8Validator::complete() const noexcept { return state_ == 0; }

void Utf8Validator::reset() noexcept { state_ = 0; }

bool isValidUtf8(std::string_view bytes) noexcept {
  Utf8Validator validator;
  return validator.feed(bytes) && validator.complete();
}

size_t utf8SequenceLength(const unsigned char* p, size_t n) noexcept {
  const unsigned char b0 = p[0];
  auto cont = [&](size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return i < n && p[i] >= lo && p[i] <= hi;
  };
  if (b0 < 0x80) return 1;
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1) ? 2 : 0;
  if (b0 == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (b0 == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
  if (b0 == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b0 >= 0xF1 && b0 <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b0 == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

}  // namespace webim
