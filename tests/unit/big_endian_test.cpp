#include "common/big_endian.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

using namespace webim;

TEST_CASE("big endian: most significant byte first, every width", "[big_endian]") {
  std::string out;
  appendBigEndian<uint16_t>(out, 0x0102);
  appendBigEndian<uint32_t>(out, 0x03040506);
  appendBigEndian<uint64_t>(out, 0x0708090a0b0c0d0eull);
  appendBigEndian<uint8_t>(out, 0xff);
  CHECK(out == std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\xff", 15));
  CHECK(loadBigEndian<uint16_t>(out.data()) == 0x0102);
  CHECK(loadBigEndian<uint32_t>(out.data() + 2) == 0x03040506);
  CHECK(loadBigEndian<uint64_t>(out.data() + 6) == 0x0708090a0b0c0d0eull);
  CHECK(loadBigEndian<uint8_t>(out.data() + 14) == 0xff);
}

TEST_CASE("big endian: round trips and bytewise order follows numeric order", "[big_endian]") {
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{255}, uint64_t{256}, uint64_t{0x8000000000000000ull}, UINT64_MAX}) {
    unsigned char bytes[8];
    storeBigEndian(bytes, v);
    CHECK(loadBigEndian<uint64_t>(bytes) == v);
    std::string a, b;
    appendBigEndian(a, v);
    appendBigEndian(b, v == UINT64_MAX ? v : v + 1);
    CHECK(a <= b);  // the RocksDB keys rely on it
  }
  static constexpr unsigned char kBytes[] = {0x12, 0x34, 0x56, 0x78};
  static_assert(loadBigEndian<uint32_t>(kBytes) == 0x12345678);
}
