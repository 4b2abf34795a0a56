// Client request decoding (simdjson; no hand-written parser) and a minimal JSON writer for replies
// and deliveries (PROTOCOL.md section 1). Pure: no I/O.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace webim {

enum class ClientOp { Auth, Sub, Unsub, Pub, Hist, Unknown };

inline constexpr size_t kMaxCidBytes = 64;
inline constexpr uint32_t kDefaultHistLimit = 50;
inline constexpr uint32_t kMaxHistLimit = 200;

// A decoded client request. All string_views point into the decoder's buffers and stay valid until
// the next decode(). String fields (opName, token, ch, cid, sinceEpoch) are unescaped; `data` is raw.
struct ClientRequest {
  ClientOp op = ClientOp::Unknown;
  std::string_view opName;
  int64_t id = 0;
  bool hasId = false;
  std::string_view token, ch, cid;
  std::string_view data;  // raw JSON bytes of "data" exactly as sent (trimmed of surrounding whitespace), empty if absent
  bool hasSince = false;
  std::string_view sinceEpoch;  // 16 lowercase hex digits (checked with parseEpoch)
  uint64_t sinceSeq = 0;
  std::optional<uint64_t> before, after;
  uint32_t limit = kDefaultHistLimit;
};

struct DecodeError {
  std::string message;  // empty message = success
  bool ok() const noexcept { return message.empty(); }
};

class RequestDecoder {
 public:
  RequestDecoder();  // one per event loop; reuses its simdjson parsers and a padded buffer
  ~RequestDecoder();
  RequestDecoder(RequestDecoder&&) noexcept;
  RequestDecoder& operator=(RequestDecoder&&) noexcept;

  // Validates the frame fully as JSON (UTF-8, every value, nesting <= 128, nothing after the
  // object) with one simdjson On-Demand pass, requires a top-level object with string "op" and
  // integer "id", and the fields each op needs:
  //   auth: token (string)
  //   sub: ch (string); optional since {"epoch": 16 lowercase hex digits, "seq": unsigned integer}
  //   unsub: ch (string)
  //   pub: ch (string), data (any JSON value), cid (string, 1..64 bytes)
  //   hist: ch (string); optional before or after (unsigned integer; not both); optional limit 1..200
  // Optional fields given as null count as absent. A known field appearing twice is an error (so no
  // reader can disagree about which copy counts); unknown fields are ignored. Channel names are not
  // checked here (see channel_rules.h). Unknown ops decode with op == Unknown and only op/id read
  // (the caller answers bad_request). On error, out.id/out.hasId are still set when they could be
  // read (not for frames that are not valid JSON: nothing is reported from those).
  DecodeError decode(std::string_view frame, ClientRequest& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

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

std::string formatEpoch(uint64_t epoch);  // 16 lowercase hex digits
// Inverse of formatEpoch: exactly 16 lowercase hex digits (the canonical form, so equal epochs
// always have equal text); anything else is nullopt.
std::optional<uint64_t> parseEpoch(std::string_view text);

}  // namespace webim
