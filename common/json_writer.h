// A minimal JSON writer for replies and deliveries (docs/protocol.md sections 1 and 4). Pure: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace webim {

// Minimal JSON writer appending to a std::string; it handles the commas between members/elements
// itself. The caller is responsible for the structure (keys only inside objects, balanced ends).
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out);
  JsonWriter& beginObject();
  JsonWriter& endObject();
  JsonWriter& beginArray();
  JsonWriter& endArray();
  JsonWriter& key(std::string_view k);
  // Strings are escaped per RFC 8259: '"' and '\' with a backslash, control characters as \u00XX;
  // valid UTF-8 is copied as is, and each byte of an invalid UTF-8 sequence becomes U+FFFD, so the
  // output is always valid UTF-8 (browsers close the socket on invalid UTF-8 in a text frame).
  JsonWriter& string(std::string_view s);
  JsonWriter& integer(int64_t v);
  JsonWriter& uinteger(uint64_t v);
  JsonWriter& boolean(bool v);
  JsonWriter& null();
  JsonWriter& raw(std::string_view json);  // raw: already-valid JSON, copied verbatim

 private:
  void beforeValue();
  std::string& out_;
  bool needComma_ = false;  // a value was just completed at the current level
};

// Appends `s` as a quoted, escaped JSON string (the JsonWriter::string rules) without comma logic.
void appendJsonString(std::string& out, std::string_view s);

}  // namespace webim
