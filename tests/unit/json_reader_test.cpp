// JsonObjectReader: the shared validating walk (also used by the hub's app ingress)
#include "common/json_reader.h"

#include <catch2/catch.hpp>

#include <span>
#include <string>
#include <vector>

using namespace webim;

namespace {

std::vector<JsonMember> readOk(JsonObjectReader& reader, std::string_view json,
                               std::span<const std::string_view> expand = {}) {
  const JsonReadStatus status = reader.read(json, expand);
  INFO(json << " -> " << status.detail);
  REQUIRE(status.ok());
  return {reader.members().begin(), reader.members().end()};
}

}  // namespace

TEST_CASE("JsonObjectReader: members in document order with type, scalar and raw bytes", "[json_reader]") {
  JsonObjectReader reader;
  const auto m = readOk(reader, " {\"s\":\"a\\u00e9\\n\", \"i\" : -42 ,\"u\":18446744073709551615,\"big\":123456789012345678901234567890,"
                                "\"e\":1E+2,\"z\":-0,\"t\":true,\"f\":false,\"n\":null,\"o\":{ \"k\" : [1, 2] },\"a\":[ ],\"d\\u0061\":1,\"s\":2} \n");
  REQUIRE(m.size() == 13);
  const auto check = [&](size_t i, std::string_view key, JsonType type, std::string_view raw) {
    INFO(i << " " << key);
    CHECK(m[i].key == key);
    CHECK(m[i].value.type == type);
    CHECK(m[i].value.raw == raw);
    CHECK(m[i].parent == kJsonTopLevel);
  };
  check(0, "s", JsonType::String, "\"a\\u00e9\\n\"");
  CHECK(m[0].value.str == "a\xc3\xa9\n");
  check(1, "i", JsonType::Int64, "-42");
  CHECK(m[1].value.i == -42);
  check(2, "u", JsonType::Uint64, "18446744073709551615");
  CHECK(m[2].value.u == UINT64_MAX);
  check(3, "big", JsonType::Number, "123456789012345678901234567890");
  check(4, "e", JsonType::Number, "1E+2");
  check(5, "z", JsonType::Int64, "-0");  // the integer 0, raw bytes kept
  CHECK(m[5].value.i == 0);
  check(6, "t", JsonType::Bool, "true");
  CHECK(m[6].value.b);
  check(7, "f", JsonType::Bool, "false");
  CHECK_FALSE(m[7].value.b);
  check(8, "n", JsonType::Null, "null");
  check(9, "o", JsonType::Object, "{ \"k\" : [1, 2] }");
  check(10, "a", JsonType::Array, "[ ]");
  check(11, "da", JsonType::Int64, "1");  // keys are unescaped
  check(12, "s", JsonType::Int64, "2");   // duplicates are listed, the caller decides
  uint64_t v = 0;
  CHECK(m[2].value.getUnsigned(v));
  CHECK(v == UINT64_MAX);
  CHECK(m[5].value.getUnsigned(v));
  CHECK(v == 0);
  CHECK_FALSE(m[1].value.getUnsigned(v));
  CHECK_FALSE(m[3].value.getUnsigned(v));
  CHECK_FALSE(m[4].value.getUnsigned(v));
  CHECK_FALSE(m[0].value.getUnsigned(v));
  CHECK(readOk(reader, "{}").empty());
}

TEST_CASE("JsonObjectReader: big integers, exponents and -0 keep their bytes at any depth", "[json_reader]") {
  JsonObjectReader reader;
  for (const std::string& value : std::vector<std::string>{"12345678901234567890123", "-12345678901234567890123", "18446744073709551616", "-9223372036854775809",
        "[1, 99999999999999999999999999999]", R"({"a":{"b":[{"c":-340282366920938463463374607431768211456}]}})",
        "1e308", "-1.5E-300", "2.50e+10", "0e0", "123456789012345678901234567890e-5", "-0", "-0.0", "[-0,{\"x\":-0.0e-0}]",
        std::string(300, '9')}) {
    INFO(value);
    const auto m = readOk(reader, R"({"x":1,"data":)" + value + R"( ,"y":2})");
    REQUIRE(m.size() == 3);
    CHECK(m[1].key == "data");
    CHECK(m[1].value.raw == value);
    CHECK(m[2].value.raw == "2");
  }
  // simdjson 3.0.1 rejects numbers whose magnitude a double cannot hold (the only size limit).
  CHECK(reader.read(R"({"data":1e400})").code == JsonReadStatus::InvalidJson);
  CHECK(reader.read("{\"data\":" + std::string(400, '9') + "}").code == JsonReadStatus::InvalidJson);
}

TEST_CASE("JsonObjectReader: expanded members list their object's members after them", "[json_reader]") {
  JsonObjectReader reader;
  constexpr std::array<std::string_view, 2> expand = {"since", "x"};
  const auto m = readOk(reader, R"({"a":{"since":{"q":1}},"since":{ "epoch":"e", "seq":12345678901234567890123, "n":{"k":[1]} },"x":[1],"b":0})",
                        expand);
  REQUIRE(m.size() == 8);
  CHECK(m[0].key == "a");  // only top-level keys expand (and keys inside expanded values)
  CHECK(m[0].value.raw == R"({"since":{"q":1}})");
  CHECK(m[1].key == "since");
  CHECK(m[1].parent == kJsonTopLevel);
  CHECK(m[1].value.type == JsonType::Object);
  CHECK(m[1].value.raw == R"({ "epoch":"e", "seq":12345678901234567890123, "n":{"k":[1]} })");
  CHECK(m[2].key == "epoch");
  CHECK(m[2].parent == 1);
  CHECK(m[2].value.str == "e");
  CHECK(m[3].key == "seq");
  CHECK(m[3].parent == 1);
  CHECK(m[3].value.type == JsonType::Number);
  CHECK(m[3].value.raw == "12345678901234567890123");
  CHECK(m[4].key == "n");
  CHECK(m[4].parent == 1);
  CHECK(m[4].value.raw == R"({"k":[1]})");
  CHECK(m[5].key == "x");  // an array: its elements follow
  CHECK(m[5].value.type == JsonType::Array);
  CHECK(m[5].value.raw == "[1]");
  CHECK(m[6].key == "");
  CHECK(m[6].parent == 5);
  CHECK(m[6].value.raw == "1");
  CHECK(m[7].key == "b");
  CHECK(m[7].parent == kJsonTopLevel);
  // Expanded members are validated like any other value, with the same depth bound.
  CHECK(reader.read(R"({"since":{"epoch":tru}})", expand).code == JsonReadStatus::InvalidJson);
  CHECK(reader.read(R"({"since":{"a":1,}})", expand).code == JsonReadStatus::InvalidJson);
  CHECK(reader.read(R"({"since":{"a":)" + std::string(127, '[') + std::string(127, ']') + "}}", expand).code ==
        JsonReadStatus::InvalidJson);
  CHECK(reader.read(R"({"since":{"a":)" + std::string(126, '[') + std::string(126, ']') + "}}", expand).ok());
}

TEST_CASE("JsonObjectReader: arrays of objects expand level by level", "[json_reader]") {
  JsonObjectReader reader;
  constexpr std::array<std::string_view, 2> expand = {"subs", "since"};
  const auto m = readOk(reader, R"({"subs":[{"ch":"a","since":{"epoch":"e","seq":1}},[2],{"ch":"b","x":{"since":{}}}]})",
                        expand);
  REQUIRE(m.size() == 10);
  CHECK(m[0].key == "subs");
  CHECK(m[0].value.type == JsonType::Array);
  CHECK(m[1].parent == 0);  // the first element
  CHECK(m[1].value.type == JsonType::Object);
  CHECK(m[1].value.raw == R"({"ch":"a","since":{"epoch":"e","seq":1}})");
  CHECK(m[2].key == "ch");
  CHECK(m[2].parent == 1);
  CHECK(m[3].key == "since");  // a key to expand, inside an expanded value
  CHECK(m[3].parent == 1);
  CHECK(m[4].key == "epoch");
  CHECK(m[4].parent == 3);
  CHECK(m[5].key == "seq");
  CHECK(m[6].parent == 0);  // [2]: an element that is not an object stays whole
  CHECK(m[6].value.raw == "[2]");
  CHECK(m[7].parent == 0);
  CHECK(m[8].key == "ch");
  CHECK(m[9].key == "x");  // not a key to expand: whole
  CHECK(m[9].value.raw == R"({"since":{}})");
  CHECK(m[9].parent == 7);
}

TEST_CASE("JsonObjectReader: invalid documents and non-objects", "[json_reader]") {
  JsonObjectReader reader;
  for (const std::string& bad : std::vector<std::string>{"", " ", "{", R"({"a":1} {})", R"({"a":1}})", R"({"a":1,})", R"({"a":01})",
                                R"({"a":"\x"})", "{\"a\":\"\xff\"}", R"({"a":[1 2]})", R"({"a":nul})"}) {
    INFO(bad);
    const JsonReadStatus status = reader.read(bad);
    CHECK(status.code == JsonReadStatus::InvalidJson);
    CHECK_FALSE(status.detail.empty());
    CHECK(reader.members().empty());
  }
  for (const std::string& notObject : std::vector<std::string>{"[]", "1", "12345678901234567890123", R"("s")", "null", "true"}) {
    INFO(notObject);
    CHECK(reader.read(notObject).code == JsonReadStatus::NotAnObject);
    CHECK(reader.members().empty());
  }
  const auto nested = [](int levels) { return R"({"a":)" + std::string(levels - 1, '[') + std::string(levels - 1, ']') + "}"; };
  CHECK(reader.read(nested(kMaxJsonDepth)).ok());
  CHECK(reader.read(nested(kMaxJsonDepth + 1)).code == JsonReadStatus::InvalidJson);
  // The reader keeps working after errors, its buffer grows, and views point into it, not the input.
  std::string big = R"({"k":")" + std::string(70000, 'x') + R"("})";
  CHECK(readOk(reader, big)[0].value.str.size() == 70000);
  std::string input = R"({"k":"v","n":123456789012345678901234567890})";
  const auto m = readOk(reader, input);
  input.assign(input.size(), '#');
  CHECK(m[0].key == "k");
  CHECK(m[0].value.str == "v");
  CHECK(m[1].value.raw == "123456789012345678901234567890");
}
