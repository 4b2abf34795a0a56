#include "common/epoch.h"

namespace webim {

namespace {
constexpr char kHexDigits[] = "0123456789abcdef";
}  // namespace

std::string formatEpoch(uint64_t epoch) {
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<size_t>(i)] = kHexDigits[epoch & 0xF];
    epoch >>= 4;
  }
  return out;
}

std::optional<uint64_t> parseEpoch(std::string_view text) {
  if (text.size() != 16) return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    uint64_t digit = 0;
    if (c >= '0' && c <= '9') {
      digit = static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<uint64_t>(c - 'a' + 10);
    } else {
      return std::nullopt;
    }
    v = (v << 4) | digit;
  }
  return v;
}

}  // namespace webim
