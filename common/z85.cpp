#include "common/z85.h"

#include <array>
#include <cstdint>

#include "common/big_endian.h"

namespace webim {

namespace {

constexpr std::string_view kAlphabet =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

constexpr std::array<int8_t, 256> decodeTable() {
  std::array<int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (size_t i = 0; i < kAlphabet.size(); ++i) table[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  return table;
}

constexpr std::array<int8_t, 256> kDecode = decodeTable();

}  // namespace

std::optional<std::string> z85Encode(std::string_view bytes) {
  if (bytes.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(bytes.size() / 4 * 5);
  for (size_t i = 0; i < bytes.size(); i += 4) {
    uint32_t value = loadBigEndian<uint32_t>(bytes.data() + i);
    char group[5];
    for (int j = 4; j >= 0; --j) {
      group[j] = kAlphabet[value % 85];
      value /= 85;
    }
    out.append(group, 5);
  }
  return out;
}

std::optional<std::string> z85Decode(std::string_view text) {
  if (text.size() % 5 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 5 * 4);
  for (size_t i = 0; i < text.size(); i += 5) {
    uint64_t value = 0;
    for (size_t j = 0; j < 5; ++j) {
      int8_t digit = kDecode[static_cast<uint8_t>(text[i + j])];
      if (digit < 0) return std::nullopt;
      value = value * 85 + static_cast<uint64_t>(digit);
    }
    if (value > UINT32_MAX) return std::nullopt;
    appendBigEndian(out, static_cast<uint32_t>(value));
  }
  return out;
}

}  // namespace webim
