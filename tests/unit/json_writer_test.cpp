#include "common/json_writer.h"

#include <catch2/catch.hpp>

#include <simdjson.h>

#include <string>

using namespace webim;

TEST_CASE("JsonWriter: structure and commas", "[json_writer]") {
  std::string out;
  JsonWriter w(out);
  w.beginObject()
      .key("op").string("msg")
      .key("seq").uinteger(18446744073709551615ull)
      .key("n").integer(-9223372036854775807 - 1)
      .key("ok").boolean(true)
      .key("no").boolean(false)
      .key("nil").null()
      .key("data").raw(R"({"b":1,"a":12345678901234567890123})")
      .key("list").beginArray().integer(1).beginObject().endObject().beginArray().endArray().string("x").raw("[1, 2]").endArray()
      .key("empty").beginObject().endObject()
      .endObject();
  CHECK(out ==
        R"({"op":"msg","seq":18446744073709551615,"n":-9223372036854775808,"ok":true,"no":false,"nil":null,)"
        R"("data":{"b":1,"a":12345678901234567890123},"list":[1,{},[],"x",[1, 2]],"empty":{}})");

  // Appends to existing content; sequences of top-level values get commas too (e.g. "msgs" bodies).
  std::string arr = "prefix:";
  JsonWriter a(arr);
  a.beginArray().beginArray().integer(0).endArray().beginObject().key("k").beginArray().endArray().endObject().endArray();
  CHECK(arr == R"(prefix:[[0],{"k":[]}])");
}

TEST_CASE("JsonWriter: string escaping", "[json_writer]") {
  auto str = [](std::string_view s) {
    std::string out;
    JsonWriter(out).string(s);
    return out;
  };
  CHECK(str("") == R"("")");
  CHECK(str("plain") == R"("plain")");
  CHECK(str("a\"b") == R"("a\"b")");
  CHECK(str("a\\b") == R"("a\\b")");
  CHECK(str("/") == R"("/")");
  CHECK(str("\n\r\t\b\f") == R"("\u000a\u000d\u0009\u0008\u000c")");
  CHECK(str(std::string("\0\x01\x1f", 3)) == R"("\u0000\u0001\u001f")");
  CHECK(str("\x7f") == "\"\x7f\"");
  CHECK(str("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  // Invalid UTF-8 becomes U+FFFD per offending byte, so the frame stays valid text.
  CHECK(str("a\xff" "b") == "\"a\xef\xbf\xbd" "b\"");
  CHECK(str("\xc3") == "\"\xef\xbf\xbd\"");                        // truncated
  CHECK(str("\xc0\xaf") == "\"\xef\xbf\xbd\xef\xbf\xbd\"");        // overlong
  CHECK(str("\xed\xa0\x80") == "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");  // surrogate
  CHECK(str("\xf4\x90\x80\x80").size() == 2 + 4 * 3);              // beyond U+10FFFF
  std::string key;
  JsonWriter(key).beginObject().key("k\"\n").integer(1).endObject();
  CHECK(key == R"({"k\"\u000a":1})");

  // Whatever goes in, the output parses back to the same (valid UTF-8) string.
  simdjson::dom::parser parser;
  for (int c = 0; c < 256; ++c) {
    std::string input = "x";
    input.push_back(static_cast<char>(c));
    input.push_back('y');
    const std::string json = str(input);
    std::string_view back;
    REQUIRE(parser.parse(json).get_string().get(back) == simdjson::SUCCESS);
    if (c < 0x80) CHECK(back == input);
  }
}
