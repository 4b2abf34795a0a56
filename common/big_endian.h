// Unsigned integers in big-endian (network) byte order, most significant byte first: the RocksDB
// store's keys and values (ordered bytewise), PostgreSQL's binary parameters, WebSocket frame
// lengths and close codes (RFC 6455), Z85 groups. The one implementation: pure, header-only.
#pragma once

#include <concepts>
#include <cstddef>
#include <string>

namespace webim {

template <class T>
concept BigEndianInt = std::unsigned_integral<T> && !std::same_as<T, bool>;

// Reads sizeof(UInt) bytes at `p`.
template <BigEndianInt UInt>
constexpr UInt loadBigEndian(const unsigned char* p) noexcept {
  UInt v = 0;
  for (size_t i = 0; i < sizeof(UInt); ++i) v = static_cast<UInt>((v << 8) | p[i]);
  return v;
}

template <BigEndianInt UInt>
UInt loadBigEndian(const char* p) noexcept {
  return loadBigEndian<UInt>(reinterpret_cast<const unsigned char*>(p));
}

// Writes sizeof(UInt) bytes at `out`.
template <BigEndianInt UInt>
constexpr void storeBigEndian(unsigned char* out, UInt v) noexcept {
  for (size_t i = sizeof(UInt); i-- > 0;) {
    out[i] = static_cast<unsigned char>(v & 0xFF);
    v = static_cast<UInt>(v >> 8);  // a uint8_t is promoted to int first: no over-wide shift
  }
}

template <BigEndianInt UInt>
void storeBigEndian(char* out, UInt v) noexcept {
  storeBigEndian(reinterpret_cast<unsigned char*>(out), v);
}

// Appends sizeof(UInt) bytes to `out`.
template <BigEndianInt UInt>
void appendBigEndian(std::string& out, UInt v) {
  char bytes[sizeof(UInt)];
  storeBigEndian(bytes, v);
  out.append(bytes, sizeof bytes);
}

}  // namespace webim
