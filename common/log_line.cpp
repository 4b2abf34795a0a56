#include "common/log_line.h"

#include <chrono>

#include "common/json_writer.h"
#include "common/utf8.h"

namespace webim {

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

void appendDigits(std::string& out, int64_t value, int width) {
  char digits[20];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0);
  for (int i = n; i < width; ++i) out.push_back('0');
  while (n > 0) out.push_back(digits[--n]);
}

bool isBare(unsigned char c) { return c > 0x20 && c < 0x7F && c != '"' && c != '=' && c != '\\'; }

bool needsQuotes(std::string_view value) {
  if (value.empty()) return true;
  for (char c : value) {
    if (!isBare(static_cast<unsigned char>(c))) return true;
  }
  return false;
}

void appendLogfmtQuoted(std::string& out, std::string_view value) {
  out.push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(value.data());
  const size_t n = value.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    if (c >= 0x80) {
      const size_t len = utf8SequenceLength(p + i, n - i);
      if (len == 0) {
        out.append(kReplacementChar);
        ++i;
      } else {
        out.append(value.data() + i, len);
        i += len;
      }
      continue;
    }
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          const char esc[] = {'\\', 'u', '0', '0', kHexDigits[c >> 4], kHexDigits[c & 0xF]};
          out.append(esc, sizeof esc);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
}

// JSON: DEL is legal raw in a string, but it is a control byte to a terminal and to journald. It
// never occurs inside a multi-byte sequence, so it can be escaped after appendJsonString.
void appendJsonValue(std::string& out, std::string_view value) {
  const size_t start = out.size();
  appendJsonString(out, value);
  for (size_t i = out.find('\x7F', start); i != std::string::npos; i = out.find('\x7F', i)) {
    out.replace(i, 1, "\\u007f");
  }
}

void appendLogfmt(std::string& out, const LogLine& line) {
  auto pair = [&out](std::string_view key, std::string_view value) {
    out.push_back(' ');
    out.append(key);
    out.push_back('=');
    appendLogfmtValue(out, value);
  };
  out.append("ts=");
  appendRfc3339Utc(out, line.unixMs);
  pair("level", line.level);
  pair("program", line.program);
  pair("id", line.id);
  pair("msg", line.message);
  if (!line.event.empty()) pair("event", line.event);
  for (const LogField& f : line.fields) pair(f.key, f.value);
  out.push_back('\n');
}

void appendJson(std::string& out, const LogLine& line) {
  auto member = [&out](std::string_view key, std::string_view value, bool number) {
    out.push_back(',');
    appendJsonString(out, key);
    out.push_back(':');
    if (number) {
      out.append(value);
    } else {
      appendJsonValue(out, value);
    }
  };
  out.append("{\"ts\":\"");
  appendRfc3339Utc(out, line.unixMs);
  out.push_back('"');
  member("level", line.level, false);
  member("program", line.program, false);
  member("id", line.id, false);
  member("msg", line.message, false);
  if (!line.event.empty()) member("event", line.event, false);
  for (const LogField& f : line.fields) member(f.key, f.value, f.number && !f.value.empty());
  out.append("}\n");
}

}  // namespace

std::optional<LogFormat> parseLogFormat(std::string_view name) noexcept {
  if (name == "logfmt") return LogFormat::Logfmt;
  if (name == "json") return LogFormat::Json;
  return std::nullopt;
}

void appendRfc3339Utc(std::string& out, int64_t unixMs) {
  using namespace std::chrono;
  const sys_time<milliseconds> t{milliseconds(unixMs)};
  const sys_days day = floor<days>(t);
  const year_month_day date{day};
  const hh_mm_ss<milliseconds> time{t - day};
  appendDigits(out, static_cast<int>(date.year()), 4);
  out.push_back('-');
  appendDigits(out, static_cast<unsigned>(date.month()), 2);
  out.push_back('-');
  appendDigits(out, static_cast<unsigned>(date.day()), 2);
  out.push_back('T');
  appendDigits(out, time.hours().count(), 2);
  out.push_back(':');
  appendDigits(out, time.minutes().count(), 2);
  out.push_back(':');
  appendDigits(out, time.seconds().count(), 2);
  out.push_back('.');
  appendDigits(out, time.subseconds().count(), 3);
  out.append("+00:00");
}

void appendLogfmtValue(std::string& out, std::string_view value) {
  if (needsQuotes(value)) {
    appendLogfmtQuoted(out, value);
  } else {
    out.append(value);
  }
}

void appendLogLine(std::string& out, LogFormat format, const LogLine& line) {
  if (format == LogFormat::Json) {
    appendJson(out, line);
  } else {
    appendLogfmt(out, line);
  }
}

}  // namespace webim
