// JsonObjectReader: the one validating JSON walker shared by every JSON ingress (client requests in
// common/client_request.h, the hub's app ingress in broadcast/app_request.cpp): one simdjson On-Demand
// pass, no hand-written parser. Pure: no I/O.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

namespace webim {

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

}  // namespace webim
