// Strict incremental UTF-8 validation (RFC 3629) for WebSocket text frames and close reasons.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace webim {

// Incremental UTF-8 validator (RFC 3629: no overlongs, no surrogates, <= U+10FFFF); DFA state fits in 4 bytes.
// Bytes may be fed split at any offset, including inside a code point, so a text message can be checked
// fragment by fragment as it arrives and rejected before it ends (RFC 6455 section 8.1 "fail fast").
class Utf8Validator {
 public:
  // Feeds bytes; returns false as soon as the input can no longer be valid UTF-8 (fail fast).
  // Once it has returned false it keeps returning false until reset().
  bool feed(std::string_view bytes) noexcept;
  // True when the bytes fed so far end on a code point boundary (and no error was seen).
  bool complete() const noexcept;
  void reset() noexcept;

 private:
  // 0: on a code point boundary. kFailed: invalid input seen. Otherwise bits 0-7 hold the number of
  // continuation bytes still expected and bits 8-15 / 16-23 the inclusive range allowed for the next
  // one (only the first continuation byte after E0, ED, F0, F4 has a range narrower than 80..BF).
  uint32_t state_ = 0;
};

// Whole-buffer check, same rules as Utf8Validator.
bool isValidUtf8(std::string_view bytes) noexcept;

// Length of the well-formed UTF-8 sequence starting at p (n > 0 bytes left; Unicode Table 3-7), or 0
// if it is not well-formed (stray continuation, overlong form, surrogate, beyond U+10FFFF,
// truncated). Escapers use it to copy valid UTF-8 and replace each byte of an invalid sequence.
size_t utf8SequenceLength(const unsigned char* p, size_t n) noexcept;

}  // namespace webim
