#include "common/base64.h"

#include <catch2/catch.hpp>

#include <string>

using webim::base64Encode;
using webim::base64UrlDecode;
using webim::base64UrlEncode;

TEST_CASE("base64Encode matches the RFC 4648 test vectors", "[base64]") {
  CHECK(base64Encode("") == "");
  CHECK(base64Encode("f") == "Zg==");
  CHECK(base64Encode("fo") == "Zm8=");
  CHECK(base64Encode("foo") == "Zm9v");
  CHECK(base64Encode("foob") == "Zm9vYg==");
  CHECK(base64Encode("fooba") == "Zm9vYmE=");
  CHECK(base64Encode("foobar") == "Zm9vYmFy");
}

TEST_CASE("base64Encode uses the standard alphabet and encodes NUL bytes", "[base64]") {
  CHECK(base64Encode(std::string("\xfb\xff\xbf", 3)) == "+/+/");
  CHECK(base64Encode(std::string("\0\0\0", 3)) == "AAAA");
  // The WebSocket handshake example from RFC 6455 section 1.3 (SHA-1 digest of key + GUID).
  const std::string digest("\xb3\x7a\x4f\x2c\xc0\x62\x4f\x16\x90\xf6\x46\x06\xcf\x38\x59\x45\xb2\xbe\xc4\xea", 20);
  CHECK(base64Encode(digest) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("base64UrlEncode uses -_ and no padding", "[base64]") {
  CHECK(base64UrlEncode("") == "");
  CHECK(base64UrlEncode("f") == "Zg");
  CHECK(base64UrlEncode("fo") == "Zm8");
  CHECK(base64UrlEncode("foo") == "Zm9v");
  CHECK(base64UrlEncode(std::string("\xfb\xff\xbf", 3)) == "-_-_");
  CHECK(base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})") == "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9");
}

TEST_CASE("base64UrlDecode inverts base64UrlEncode", "[base64]") {
  CHECK(base64UrlDecode("") == std::string());
  CHECK(base64UrlDecode("Zg") == std::string("f"));
  CHECK(base64UrlDecode("Zm8") == std::string("fo"));
  CHECK(base64UrlDecode("Zm9vYmFy") == std::string("foobar"));
  CHECK(base64UrlDecode("-_-_") == std::string("\xfb\xff\xbf", 3));
  // Every length and every byte value round-trips.
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t len = 0; len <= all.size(); ++len) {
    const std::string bytes = all.substr(all.size() - len);
    const auto decoded = base64UrlDecode(base64UrlEncode(bytes));
    REQUIRE(decoded.has_value());
    CHECK(*decoded == bytes);
  }
}

TEST_CASE("base64UrlDecode rejects padding, foreign characters and impossible lengths", "[base64]") {
  CHECK_FALSE(base64UrlDecode("Zg=="));
  CHECK_FALSE(base64UrlDecode("Zm8="));
  CHECK_FALSE(base64UrlDecode("="));
  CHECK_FALSE(base64UrlDecode("+/+/"));   // standard alphabet
  CHECK_FALSE(base64UrlDecode("Zm9 v"));  // whitespace
  CHECK_FALSE(base64UrlDecode("Zm9v\n"));
  CHECK_FALSE(base64UrlDecode("Zm.v"));
  CHECK_FALSE(base64UrlDecode(std::string("Zm\0v", 4)));
  CHECK_FALSE(base64UrlDecode("\xc3\xa9xx"));
  CHECK_FALSE(base64UrlDecode("Z"));      // 1 mod 4: 6 bits cannot form a byte
  CHECK_FALSE(base64UrlDecode("Zm9vY"));
}

TEST_CASE("base64UrlDecode rejects non-canonical trailing bits", "[base64]") {
  // "Zg" is canonical for "f"; "Zh" carries the same byte with non-zero unused bits.
  CHECK(base64UrlDecode("Zg") == std::string("f"));
  CHECK_FALSE(base64UrlDecode("Zh"));
  CHECK_FALSE(base64UrlDecode("Zm9"));  // "Zm8" is canonical for "fo"
  CHECK(base64UrlDecode("Zm8") == std::string("fo"));
}
