// splitmix64's finalizer: every input bit reaches every output bit (hash tables, Bloom filters,
// the splitmix64 generator). Pure.
#pragma once

#include <cstdint>

namespace webim {

constexpr uint64_t mix64(uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace webim
