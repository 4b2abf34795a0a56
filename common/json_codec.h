// JSON object reading (one simdjson On-Demand pass; no hand-written parser), client request
// decoding on top of it, and a minimal JSON writer for replies and deliveries (docs/protocol.md
// sections 1 and 4). Pure: no I/O.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace webim {

// ---------------------------------------------------------------------------------------------
// JsonObjectReader: the one validating walker shared by every JSON ingress (client requests here,
// the hub's app ingress in broadcast/app_request.cpp).

// Bounds the validator's recursion (the stack), whatever a frame nests. Depth 1 is the top-level
// object, 2 its members' values, and so on.
inline constexpr int kMaxJsonDepth = 128;

enum class JsonType : uint8_t {
  String,
  Int64,   // an integer that fits int64_t (in `i`)
  Uint64,  // an integer above INT64_MAX that fits uint64_t (in `u`)
  Number,  // any other valid number: fraction, exponent, or an integer beyond 64 bits
  Bool,
  Null,
  Object,
  Array,
};

// One member's value. All views point into the reader's buffers (valid until its next read()).
struct JsonValue {
  JsonType type = JsonType::Null;
  std::string_view raw;  // the value's JSON text exactly as sent, without surrounding whitespace
  std::string_view str;  // String: unescaped
  int64_t i = 0;         // Int64
  uint64_t u = 0;        // Uint64
  bool b = false;        // Bool

  // Integers in 0..UINT64_MAX (not 1.0, not 1e2: those are Number).
  bool getUnsigned(uint64_t& out) const {
    if (type == JsonType::Uint64) {
      out = u;
      return true;
    }
    if (type == JsonType::Int64 && i >= 0) {
      out = static_cast<uint64_t>(i);
      return true;
    }
    return false;
  }
};

inline constexpr size_t kJsonTopLevel = static_cast<size_t>(-1);

struct JsonMember {
  std::string_view key;  // unescaped
  JsonValue value;
  // kJsonTopLevel for a member of the document's object; for a member of an expanded object
  // (see JsonObjectReader::read), the index in members() of the member holding that object.
  size_t parent = kJsonTopLevel;
};

struct JsonReadStatus {
  enum Code : uint8_t { Ok, InvalidJson, NotAnObject };
  Code code = Ok;
  std::string_view detail;  // InvalidJson: simdjson's description of the error (static storage)
  bool ok() const noexcept { return code == Ok; }
};

class JsonObjectReader {
 public:
  JsonObjectReader();  // reuses its simdjson parser, a padded input buffer and the member list
  ~JsonObjectReader();
  JsonObjectReader(JsonObjectReader&&) noexcept;
  JsonObjectReader& operator=(JsonObjectReader&&) noexcept;

  // Validates `json` fully as one JSON document (UTF-8, every number, atom and string escape at
  // any depth, nesting <= kMaxJsonDepth, nothing after it) in one On-Demand pass, and requires it
  // to be an object (NotAnObject is reported as soon as the first token says otherwise). Numbers of
  // any size are accepted: simdjson 3.0.1's DOM rejects integers beyond 64 bits, this does not.
  //
  // On success members() lists the object's members in document order, duplicates included. For a
  // top-level member whose key is in `expand` and whose value is an object, that object's members
  // follow it (parent = its index), in document order; for an array, its elements (key "", parent =
  // its index), each element that is an object followed by its members. Inside an expanded value a
  // member whose key is in `expand` is expanded the same way (`{"subs":[{"since":{...}}]}` with
  // expand = {"subs", "since"} lists every level). Every `raw` comes straight from the input, so big
  // integers, key order and inner whitespace survive byte for byte.
  // On failure members() is empty.
  JsonReadStatus read(std::string_view json, std::span<const std::string_view> expand = {});

  std::span<const JsonMember> members() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---------------------------------------------------------------------------------------------
// Client requests (docs/protocol.md section 1)

enum class ClientOp { Auth, Sub, Unsub, Pub, Hist, Unknown };

inline constexpr size_t kMaxCidBytes = 64;
inline constexpr uint32_t kDefaultHistLimit = 50;
inline constexpr uint32_t kMaxHistLimit = 200;

inline constexpr size_t kMaxSubBatch = 256;  // entries of one batched `sub`

// One channel of a `sub` request: its own (ch, since), or one entry of a batched `subs` list.
struct SubEntry {
  std::string_view ch;
  bool hasSince = false;
  std::string_view sinceEpoch;  // 16 lowercase hex digits (checked with parseEpoch)
  uint64_t sinceSeq = 0;
};

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
  // A batched sub (`subs`, 1..kMaxSubBatch entries); empty for a sub of one channel (ch, since).
  std::vector<SubEntry> subs;
};

struct DecodeError {
  std::string message;  // empty message = success
  bool tooLarge = false;  // the request is well formed but over a count limit (too_large, not bad_request)
  bool ok() const noexcept { return message.empty(); }
};

class RequestDecoder {
 public:
  RequestDecoder();  // one per event loop; reuses one JsonObjectReader
  ~RequestDecoder();
  RequestDecoder(RequestDecoder&&) noexcept;
  RequestDecoder& operator=(RequestDecoder&&) noexcept;

  // Validates the frame fully as JSON (JsonObjectReader::read: UTF-8, every value, nesting <= 128,
  // nothing after the object) with one simdjson On-Demand pass, requires a top-level object with string "op" and
  // integer "id", and the fields each op needs:
  //   auth: token (string)
  //   sub: ch (string); optional since {"epoch": 16 lowercase hex digits, "seq": unsigned integer};
  //        or, instead of ch/since, subs: an array of 1..256 objects {ch, optional since} (more:
  //        DecodeError::tooLarge); a known field twice within an entry is an error
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
