#include "common/json_writer.h"

#include <charconv>

#include "common/utf8.h"

namespace webim {

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace

void appendJsonString(std::string& out, std::string_view s) {
  out.reserve(out.size() + s.size() + 2);
  out.push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  size_t runStart = 0;  // bytes [runStart, i) are copied verbatim in one append
  auto flush = [&] { out.append(s.data() + runStart, i - runStart); };
  while (i < n) {
    const unsigned char c = p[i];
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      if (const size_t len = utf8SequenceLength(p + i, n - i); len != 0) {
        i += len;
        continue;
      }
      flush();
      out.append(kReplacementChar);
    } else {
      flush();
      if (c == '"' || c == '\\') {
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
      } else {
        const char esc[] = {'\\', 'u', '0', '0', kHexDigits[c >> 4], kHexDigits[c & 0xF]};
        out.append(esc, sizeof esc);
      }
    }
    runStart = ++i;
  }
  flush();
  out.push_back('"');
}

JsonWriter::JsonWriter(std::string& out) : out_(out) {}

void JsonWriter::beforeValue() {
  if (needComma_) out_.push_back(',');
}

JsonWriter& JsonWriter::beginObject() {
  beforeValue();
  out_.push_back('{');
  needComma_ = false;
  return *this;
}

JsonWriter& JsonWriter::endObject() {
  out_.push_back('}');
  needComma_ = true;
  return *this;
}

JsonWriter& JsonWriter::beginArray() {
  beforeValue();
  out_.push_back('[');
  needComma_ = false;
  return *this;
}

JsonWriter& JsonWriter::endArray() {
  out_.push_back(']');
  needComma_ = true;
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view k) {
  beforeValue();
  appendJsonString(out_, k);
  out_.push_back(':');
  needComma_ = false;  // the member's value follows without a comma
  return *this;
}

JsonWriter& JsonWriter::string(std::string_view s) {
  beforeValue();
  appendJsonString(out_, s);
  needComma_ = true;
  return *this;
}

namespace {
template <class Int>
void appendInteger(std::string& out, Int v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}
}  // namespace

JsonWriter& JsonWriter::integer(int64_t v) {
  beforeValue();
  appendInteger(out_, v);
  needComma_ = true;
  return *this;
}

JsonWriter& JsonWriter::uinteger(uint64_t v) {
  beforeValue();
  appendInteger(out_, v);
  needComma_ = true;
  return *this;
}

JsonWriter& JsonWriter::boolean(bool v) {
  beforeValue();
  out_.append(v ? "true" : "false");
  needComma_ = true;
  return *this;
}

JsonWriter& JsonWriter::null() {
  beforeValue();
  out_.append("null");
  needComma_ = true;
  return *this;
}

JsonWriter& JsonWriter::raw(std::string_view json) {
  beforeValue();
  out_.append(json);
  needComma_ = true;
  return *this;
}

}  // namespace webim
