#include "common/base64.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdint>

namespace webim {

namespace {

constexpr uint8_t kInvalid = 0xFF;

// Decoding table for the URL-safe alphabet. OpenSSL's EVP_DecodeBlock is not used for decoding:
// it only knows the standard alphabet, skips whitespace and accepts padding, all of which a strict
// JWT decoder must reject.
constexpr std::array<uint8_t, 256> makeUrlDecodeTable() {
  std::array<uint8_t, 256> table{};
  for (auto& v : table) v = kInvalid;
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (size_t i = 0; i < kAlphabet.size(); ++i) {
    table[static_cast<uint8_t>(kAlphabet[i])] = static_cast<uint8_t>(i);
  }
  return table;
}

constexpr std::array<uint8_t, 256> kUrlDecode = makeUrlDecodeTable();

}  // namespace

std::string base64Encode(std::string_view bytes) {
  std::string out;
  if (bytes.empty()) return out;
  // EVP_EncodeBlock writes 4 characters per 3 input bytes (padded) plus a terminating NUL.
  out.resize(4 * ((bytes.size() + 2) / 3) + 1);
  // EVP_EncodeBlock takes an int length; split huge inputs at a multiple of 3 so no padding
  // appears mid-stream.
  constexpr size_t kChunk = 3 * (1u << 28);
  size_t written = 0;
  for (size_t pos = 0; pos < bytes.size(); pos += kChunk) {
    const size_t n = std::min(kChunk, bytes.size() - pos);
    written += static_cast<size_t>(
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + written),
                        reinterpret_cast<const unsigned char*>(bytes.data() + pos), static_cast<int>(n)));
  }
  out.resize(written);
  return out;
}

std::string base64UrlEncode(std::string_view bytes) {
  std::string out = base64Encode(bytes);
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') {
      c = '-';
    } else if (c == '/') {
      c = '_';
    }
  }
  return out;
}

std::optional<std::string> base64UrlDecode(std::string_view text) {
  const size_t rem = text.size() % 4;
  if (rem == 1) return std::nullopt;  // one leftover character carries only 6 bits: never produced
  std::string out;
  out.reserve(text.size() / 4 * 3 + (rem == 0 ? 0 : rem - 1));
  uint32_t acc = 0;
  int bits = 0;
  for (char ch : text) {
    const uint8_t v = kUrlDecode[static_cast<uint8_t>(ch)];
    if (v == kInvalid) return std::nullopt;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  // Leftover bits (2 or 4) must be zero for the encoding to be canonical.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

}  // namespace webim
