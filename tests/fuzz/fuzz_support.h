// Helpers shared by the libFuzzer targets in this directory (tests/fuzz/README.md).
// Header-only on purpose: each target is one translation unit plus webim_core.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace webim::fuzz {

// A failed invariant is a finding: print it and abort so libFuzzer saves the input as crash-*.
// (assert() would vanish under -DNDEBUG; this never does.)
[[noreturn]] inline void invariantFailed(const char* file, int line, const char* what) {
  std::fprintf(stderr, "\n==fuzz== invariant violated at %s:%d: %s\n", file, line, what);
  std::abort();
}

#define FUZZ_CHECK(cond)                                                          \
  do {                                                                            \
    if (!(cond)) ::webim::fuzz::invariantFailed(__FILE__, __LINE__, #cond);       \
  } while (0)

// FNV-1a: a cheap, deterministic hash of the input, used to derive split offsets from the input
// itself, so a given input always replays the same splits (libFuzzer needs reproducible runs).
inline uint64_t hashBytes(std::string_view data) noexcept {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// splitmix64 step: a tiny PRNG seeded from the input hash.
inline uint64_t nextRandom(uint64_t& state) noexcept {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Cuts `data` into chunks at input-derived offsets: mostly small chunks (1..16 bytes, so headers and
// UTF-8 sequences get split), sometimes large ones, and empty chunks now and then (a 0-byte read must
// be harmless).
inline std::vector<std::string_view> splitAtDerivedOffsets(std::string_view data) {
  std::vector<std::string_view> chunks;
  uint64_t state = hashBytes(data);
  size_t at = 0;
  while (at < data.size()) {
    const uint64_t r = nextRandom(state);
    size_t len;
    switch (r % 8) {
      case 0: len = 0; break;
      case 1: len = 1; break;
      case 2: case 3: case 4: len = 1 + (r >> 8) % 16; break;
      default: len = 1 + (r >> 8) % 512; break;
    }
    len = len > data.size() - at ? data.size() - at : len;
    chunks.push_back(data.substr(at, len));
    at += len;
  }
  return chunks;
}

// One byte per chunk: the most extreme split.
inline std::vector<std::string_view> splitEveryByte(std::string_view data) {
  std::vector<std::string_view> chunks;
  chunks.reserve(data.size());
  for (size_t i = 0; i < data.size(); ++i) chunks.push_back(data.substr(i, 1));
  return chunks;
}

inline std::string_view asView(const uint8_t* data, size_t size) noexcept {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace webim::fuzz
