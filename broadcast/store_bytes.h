// Fixed-width big-endian integers, the byte order of both stores' encodings: RocksDB message keys
// sort by seq because seq is big-endian, and PostgreSQL's binary format is big-endian
// (postgres_codec.h). Callers check lengths before get*: these read exactly 4 or 8 bytes.
#pragma once

#include <cstdint>
#include <string>

namespace webim::hub {

inline void putBe32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

inline void putBe64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

inline uint32_t getBe32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

inline uint64_t getBe64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace webim::hub
