#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "common/utf8.h"

using webim::isValidUtf8;
using webim::Utf8Validator;

namespace {

std::string bytes(std::initializer_list<int> values) {
  std::string s;
  for (int v : values) s.push_back(static_cast<char>(v));
  return s;
}

// Feeds `input` split at `cut` and reports (feed results, complete()).
bool validSplit(const std::string& input, size_t cut) {
  Utf8Validator v;
  const bool first = v.feed(std::string_view(input).substr(0, cut));
  const bool second = v.feed(std::string_view(input).substr(cut));
  return first && second && v.complete();
}

}  // namespace

TEST_CASE("utf8: validator state fits in 4 bytes", "[utf8]") { STATIC_REQUIRE(sizeof(Utf8Validator) == 4); }

TEST_CASE("utf8: accepts valid text", "[utf8]") {
  CHECK(isValidUtf8(""));
  CHECK(isValidUtf8("hello, world"));
  CHECK(isValidUtf8("long ascii run that crosses several 8-byte words 0123456789"));
  CHECK(isValidUtf8("caf\xC3\xA9"));                    // U+00E9
  CHECK(isValidUtf8("\xE2\x82\xAC"));                   // U+20AC
  CHECK(isValidUtf8("\xF0\x9F\x98\x80"));               // U+1F600
  CHECK(isValidUtf8(bytes({0x7F})));
  CHECK(isValidUtf8(bytes({0xC2, 0x80})));              // U+0080, smallest 2-byte
  CHECK(isValidUtf8(bytes({0xDF, 0xBF})));              // U+07FF
  CHECK(isValidUtf8(bytes({0xE0, 0xA0, 0x80})));        // U+0800, smallest 3-byte
  CHECK(isValidUtf8(bytes({0xED, 0x9F, 0xBF})));        // U+D7FF, just below surrogates
  CHECK(isValidUtf8(bytes({0xEE, 0x80, 0x80})));        // U+E000, just above surrogates
  CHECK(isValidUtf8(bytes({0xEF, 0xBF, 0xBF})));        // U+FFFF
  CHECK(isValidUtf8(bytes({0xF0, 0x90, 0x80, 0x80})));  // U+10000, smallest 4-byte
  CHECK(isValidUtf8(bytes({0xF4, 0x8F, 0xBF, 0xBF})));  // U+10FFFF, largest
  CHECK(isValidUtf8(std::string("a\0b", 3)));          // NUL is valid UTF-8
}

TEST_CASE("utf8: rejects overlongs, surrogates, out of range and stray bytes", "[utf8]") {
  CHECK_FALSE(isValidUtf8(bytes({0xC0, 0x80})));              // overlong NUL
  CHECK_FALSE(isValidUtf8(bytes({0xC1, 0xBF})));              // overlong U+007F
  CHECK_FALSE(isValidUtf8(bytes({0xE0, 0x9F, 0xBF})));        // overlong U+07FF
  CHECK_FALSE(isValidUtf8(bytes({0xF0, 0x8F, 0xBF, 0xBF})));  // overlong U+FFFF
  CHECK_FALSE(isValidUtf8(bytes({0xED, 0xA0, 0x80})));        // U+D800
  CHECK_FALSE(isValidUtf8(bytes({0xED, 0xBF, 0xBF})));        // U+DFFF
  CHECK_FALSE(isValidUtf8(bytes({0xF4, 0x90, 0x80, 0x80})));  // U+110000
  CHECK_FALSE(isValidUtf8(bytes({0xF5, 0x80, 0x80, 0x80})));
  CHECK_FALSE(isValidUtf8(bytes({0xFF})));
  CHECK_FALSE(isValidUtf8(bytes({0xFE})));
  CHECK_FALSE(isValidUtf8(bytes({0x80})));                    // lone continuation
  CHECK_FALSE(isValidUtf8(bytes({0x61, 0xBF})));
  CHECK_FALSE(isValidUtf8(bytes({0xC3})));                    // truncated
  CHECK_FALSE(isValidUtf8(bytes({0xE2, 0x82})));              // truncated
  CHECK_FALSE(isValidUtf8(bytes({0xC3, 0x41})));              // lead followed by ASCII
  CHECK_FALSE(isValidUtf8(bytes({0xE2, 0x82, 0xC3, 0xA9})));  // lead interrupts a sequence
  CHECK_FALSE(isValidUtf8("12345678\xC3(abcdefgh"));
}

TEST_CASE("utf8: incremental feeding split at every offset matches one-shot", "[utf8]") {
  const std::vector<std::string> inputs = {
      "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 plain ascii text here",
      bytes({0xF4, 0x8F, 0xBF, 0xBF, 0x41, 0xED, 0x9F, 0xBF}),
      bytes({0xED, 0xA0, 0x80}),
      bytes({0x41, 0xF0, 0x9F, 0x98}),
      bytes({0xE0, 0x9F, 0x80}),
  };
  for (const std::string& input : inputs) {
    const bool expected = isValidUtf8(input);
    for (size_t cut = 0; cut <= input.size(); ++cut) {
      INFO("cut " << cut);
      CHECK(validSplit(input, cut) == expected);
    }
    Utf8Validator byByte;
    bool ok = true;
    for (char c : input) ok = byByte.feed(std::string_view(&c, 1)) && ok;
    CHECK((ok && byByte.complete()) == expected);
  }
}

TEST_CASE("utf8: complete() tracks code point boundaries", "[utf8]") {
  Utf8Validator v;
  CHECK(v.complete());
  CHECK(v.feed("\xF0\x9F"));
  CHECK_FALSE(v.complete());
  CHECK(v.feed("\x98"));
  CHECK_FALSE(v.complete());
  CHECK(v.feed("\x80"));
  CHECK(v.complete());
  CHECK(v.feed(""));
  CHECK(v.complete());
}

TEST_CASE("utf8: fails fast and stays failed until reset", "[utf8]") {
  Utf8Validator v;
  // The error is visible on the first bad byte, even though more input would follow.
  CHECK_FALSE(v.feed(bytes({0x41, 0xED, 0xA0})));
  CHECK_FALSE(v.complete());
  CHECK_FALSE(v.feed("valid ascii"));
  v.reset();
  CHECK(v.complete());
  CHECK(v.feed("valid again"));
  CHECK(v.complete());

  Utf8Validator lead;
  CHECK_FALSE(lead.feed(bytes({0xF8})));  // no further bytes needed to know
}

TEST_CASE("utf8: every 2-byte lead and continuation pair matches the RFC 3629 table", "[utf8]") {
  int accepted = 0;
  for (int lead = 0x80; lead <= 0xFF; ++lead) {
    for (int cont = 0x00; cont <= 0xFF; ++cont) {
      if (isValidUtf8(bytes({lead, cont}))) ++accepted;
    }
  }
  // C2..DF followed by 80..BF: 30 * 64 sequences.
  CHECK(accepted == 30 * 64);
}
