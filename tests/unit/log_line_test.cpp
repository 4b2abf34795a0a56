#include "common/log_line.h"

#include <catch2/catch.hpp>

#include <simdjson.h>

#include <string>
#include <vector>

#include "common/utf8.h"

using namespace webim;

namespace {

constexpr int64_t kSomeTime = 1796466662123;  // 2026-12-05T10:31:02.123Z

std::string line(LogFormat format, std::string_view message, std::vector<LogField> fields = {},
                 std::string_view event = {}) {
  std::string out;
  appendLogLine(out, format, {kSomeTime, "info", "webim-frontend", "fe1", message, event, fields});
  return out;
}

// The member `key` of a JSON line, as simdjson reads it (throws if the line is not valid JSON).
std::string jsonMember(const std::string& text, const char* key) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(text);
  simdjson::dom::element value = doc[key];
  if (value.is_string()) return std::string(std::string_view(value));
  return simdjson::minify(value);
}

}  // namespace

TEST_CASE("log line: RFC 3339 UTC with milliseconds and an offset", "[log_line]") {
  auto ts = [](int64_t ms) {
    std::string out;
    appendRfc3339Utc(out, ms);
    return out;
  };
  CHECK(ts(0) == "1970-01-01T00:00:00.000+00:00");
  CHECK(ts(kSomeTime) == "2026-12-05T10:31:02.123+00:00");
  CHECK(ts(951782400007) == "2000-02-29T00:00:00.007+00:00");  // a leap day
  CHECK(ts(4102444799999) == "2099-12-31T23:59:59.999+00:00");
}

TEST_CASE("log line: the format names", "[log_line]") {
  CHECK(parseLogFormat("logfmt") == LogFormat::Logfmt);
  CHECK(parseLogFormat("json") == LogFormat::Json);
  CHECK_FALSE(parseLogFormat("JSON"));
  CHECK_FALSE(parseLogFormat(""));
}

TEST_CASE("log line: logfmt, fixed keys first, values bare or quoted", "[log_line]") {
  CHECK(line(LogFormat::Logfmt, "ready") ==
        "ts=2026-12-05T10:31:02.123+00:00 level=info program=webim-frontend id=fe1 msg=ready\n");
  CHECK(line(LogFormat::Logfmt, "token rejected",
             {{"addr", "10.0.0.1:5000"}, {"reason", "expired"}, {"n", 3}}, "token_rejected") ==
        "ts=2026-12-05T10:31:02.123+00:00 level=info program=webim-frontend id=fe1 msg=\"token rejected\" "
        "event=token_rejected addr=10.0.0.1:5000 reason=expired n=3\n");
  auto value = [](std::string_view v) {
    std::string out;
    appendLogfmtValue(out, v);
    return out;
  };
  CHECK(value("") == "\"\"");
  CHECK(value("a=b") == "\"a=b\"");
  CHECK(value("say \"hi\"") == R"("say \"hi\"")");
  CHECK(value("back\\slash") == R"("back\\slash")");
  CHECK(value("two\nlines\r\tend") == R"("two\nlines\r\tend")");
  CHECK(value(std::string_view("nul\0bell\x07"
                               "del\x7f",
                               13)) == R"("nul\u0000bell\u0007del\u007f")");
  CHECK(value("caf\xC3\xA9") == "\"caf\xC3\xA9\"");                    // valid UTF-8 is kept (quoted)
  CHECK(value("bad\xFF\xC3(") == "\"bad\xEF\xBF\xBD\xEF\xBF\xBD(\"");  // each invalid byte: U+FFFD
  CHECK(value("\xE2\x82") == "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");          // a truncated sequence
}

TEST_CASE("log line: JSON lines parse, whatever the message holds", "[log_line]") {
  std::string plain = line(LogFormat::Json, "ready");
  CHECK(
      plain ==
      R"({"ts":"2026-12-05T10:31:02.123+00:00","level":"info","program":"webim-frontend","id":"fe1","msg":"ready"})"
      "\n");
  static constexpr char kHostile[] =
      "quote\" back\\ nl\n cr\r nul\0 del\x7f bad\xFF\xFE end \xF0\x9F\x98\x80";
  const std::string hostile(kHostile, sizeof kHostile - 1);
  std::string text =
      line(LogFormat::Json, hostile, {{"user", hostile}, {"count", 42}, {"code", 4008}}, "rate_limit_close");
  REQUIRE(text.back() == '\n');
  REQUIRE(text.find('\n') == text.size() - 1);  // one line
  CHECK(isValidUtf8(text));
  for (char c : text.substr(0, text.size() - 1))
    CHECK((static_cast<unsigned char>(c) >= 0x20 && c != '\x7f'));
  static constexpr char kExpected[] =
      "quote\" back\\ nl\n cr\r nul\0 del\x7f bad\xEF\xBF\xBD\xEF\xBF\xBD end \xF0\x9F\x98\x80";
  const std::string expected(kExpected, sizeof kExpected - 1);
  CHECK(jsonMember(text, "msg") == expected);
  CHECK(jsonMember(text, "user") == expected);
  CHECK(jsonMember(text, "event") == "rate_limit_close");
  CHECK(jsonMember(text, "count") == "42");  // a number, not a string
  CHECK(jsonMember(text, "ts") == "2026-12-05T10:31:02.123+00:00");
}

TEST_CASE("log line: logfmt lines stay one line of valid UTF-8", "[log_line]") {
  std::string hostile("a\nb\rc\0d\x1b[31m\xFF", 13);
  std::string text = line(LogFormat::Logfmt, hostile, {{"user", hostile}});
  CHECK(text.find('\n') == text.size() - 1);
  CHECK(isValidUtf8(text));
  CHECK(text.find("msg=\"a\\nb\\rc\\u0000d\\u001b[31m\xEF\xBF\xBD\" user=") != std::string::npos);
}
