#include "common/epoch.h"

#include <catch2/catch.hpp>

#include <cstdint>

using namespace webim;

TEST_CASE("formatEpoch and parseEpoch", "[epoch]") {
  CHECK(formatEpoch(0) == "0000000000000000");
  CHECK(formatEpoch(0xdeadbeef) == "00000000deadbeef");
  CHECK(formatEpoch(0x0123456789abcdefull) == "0123456789abcdef");
  CHECK(formatEpoch(UINT64_MAX) == "ffffffffffffffff");
  CHECK(parseEpoch("0000000000000000") == uint64_t{0});
  CHECK(parseEpoch("0123456789abcdef") == uint64_t{0x0123456789abcdefull});
  CHECK(parseEpoch("ffffffffffffffff") == UINT64_MAX);
  CHECK_FALSE(parseEpoch(""));
  CHECK_FALSE(parseEpoch("deadbeef"));
  CHECK_FALSE(parseEpoch("00000000000000000"));
  CHECK_FALSE(parseEpoch("0123456789ABCDEF"));
  CHECK_FALSE(parseEpoch("0x23456789abcdef"));
  CHECK_FALSE(parseEpoch("012345678 abcdef"));
  CHECK_FALSE(parseEpoch("-123456789abcdef"));
  for (uint64_t v : {uint64_t{1}, uint64_t{42}, uint64_t{0x8000000000000000ull}, uint64_t{0x00ff00ff00ff00ffull}}) {
    CHECK(parseEpoch(formatEpoch(v)) == v);
  }
}
