#include "common/json_codec.h"

#include <simdjson.h>

#include <array>
#include <charconv>
#include <cstring>
#include <utility>

namespace webim {

// ---------------------------------------------------------------------------------------------
// RequestDecoder
//
// One simdjson On-Demand pass that visits every value: each is fully validated (numbers, atoms,
// string escapes; stage 1 already checked UTF-8 and unescaped control characters), and the known
// fields are captured on the way. The DOM API is not used because simdjson 3.0.1's DOM rejects
// integers beyond 64 bits, which "data" must relay unchanged. "data" is delimited by the position
// of its first token and the iterator's position after validating it, so its bytes come straight
// from the input buffer.

namespace od = simdjson::ondemand;

struct RequestDecoder::Impl {
  od::parser parser;
  std::unique_ptr<char[]> buffer;
  size_t capacity = 0;  // usable bytes in `buffer`, excluding SIMDJSON_PADDING

  // Copies the frame into the padded buffer, growing it (never shrinking: one decoder per loop).
  void load(std::string_view frame) {
    if (!buffer || frame.size() > capacity) {
      buffer = std::make_unique<char[]>(frame.size() + simdjson::SIMDJSON_PADDING);
      capacity = frame.size();
    }
    if (!frame.empty()) std::memcpy(buffer.get(), frame.data(), frame.size());
    std::memset(buffer.get() + frame.size(), 0, simdjson::SIMDJSON_PADDING);
  }
};

namespace {

using simdjson::error_code;
using simdjson::SUCCESS;

// Bounds the validator's recursion (the stack), whatever a 64 KiB frame nests. Depth 1 is the
// top-level object, 2 its members' values, and so on.
constexpr int kMaxJsonDepth = 128;

bool isJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trimRight(std::string_view s) {
  while (!s.empty() && isJsonSpace(s.back())) s.remove_suffix(1);
  return s;
}

// What a visited value was, with its scalar content when the decoder may need it.
enum class Kind : uint8_t { Absent, String, Int64, Uint64, Double, Bool, Null, Object, Array };
struct Captured {
  Kind kind = Kind::Absent;
  std::string_view str;  // String: unescaped, in the parser's string buffer
  int64_t i = 0;         // Int64
  uint64_t u = 0;        // Uint64
};

error_code capture(od::value& v, Captured& out, int depth);

error_code validateObject(od::value& v, int depth) {
  od::object obj;
  if (error_code e = v.get_object().get(obj)) return e;
  for (auto result : obj) {
    od::field field;
    if (error_code e = std::move(result).get(field)) return e;
    std::string_view key;
    if (error_code e = field.unescaped_key().get(key)) return e;
    Captured ignored;
    if (error_code e = capture(field.value(), ignored, depth + 1)) return e;
  }
  return SUCCESS;
}

error_code validateArray(od::value& v, int depth) {
  od::array arr;
  if (error_code e = v.get_array().get(arr)) return e;
  for (auto result : arr) {
    od::value item;
    if (error_code e = std::move(result).get(item)) return e;
    Captured ignored;
    if (error_code e = capture(item, ignored, depth + 1)) return e;
  }
  return SUCCESS;
}

// Validates `v` completely (recursively) and records its kind and scalar content.
error_code capture(od::value& v, Captured& out, int depth) {
  if (depth > kMaxJsonDepth) return simdjson::DEPTH_ERROR;
  od::json_type type;
  if (error_code e = v.type().get(type)) return e;
  switch (type) {
    case od::json_type::object:
      out.kind = Kind::Object;
      return validateObject(v, depth);
    case od::json_type::array:
      out.kind = Kind::Array;
      return validateArray(v, depth);
    case od::json_type::string:
      out.kind = Kind::String;
      return v.get_string().get(out.str);
    case od::json_type::number: {
      // Scalar getters only consume the value on success, so the next one may be tried.
      if (v.get_int64().get(out.i) == SUCCESS) {
        out.kind = Kind::Int64;
        return SUCCESS;
      }
      if (v.get_uint64().get(out.u) == SUCCESS) {
        out.kind = Kind::Uint64;
        return SUCCESS;
      }
      double ignored = 0;  // any other valid number, e.g. 1.5 or an integer beyond 64 bits
      out.kind = Kind::Double;
      return v.get_double().get(ignored);
    }
    case od::json_type::boolean: {
      bool ignored = false;
      out.kind = Kind::Bool;
      return v.get_bool().get(ignored);
    }
    case od::json_type::null: {
      bool isNull = false;
      if (error_code e = v.is_null().get(isNull)) return e;
      out.kind = Kind::Null;
      return isNull ? SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
  return simdjson::TAPE_ERROR;
}

// The request fields the decoder knows; each may appear at most once.
enum Field { kOp, kId, kToken, kCh, kCid, kData, kSince, kBefore, kAfter, kLimit, kFieldCount };
constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "op", "id", "token", "ch", "cid", "data", "since", "before", "after", "limit"};

int fieldIndex(std::string_view key) {
  for (size_t i = 0; i < kFieldCount; ++i) {
    if (kFieldNames[i] == key) return static_cast<int>(i);
  }
  return -1;
}

struct Fields {
  std::array<Captured, kFieldCount> value;
  Captured sinceEpoch, sinceSeq;
  std::string_view rawData;
  int duplicate = -1;  // first known field seen twice
  bool sinceDuplicate = false;

  const Captured& operator[](Field f) const { return value[f]; }
  // Optional fields given as null are treated as absent.
  bool present(Field f) const { return value[f].kind != Kind::Absent && value[f].kind != Kind::Null; }
};

// "since": {"epoch": ..., "seq": ...}; other members are validated and ignored.
error_code captureSince(od::value& v, Fields& f) {
  od::json_type type;
  if (error_code e = v.type().get(type)) return e;
  if (type != od::json_type::object) return capture(v, f.value[kSince], 2);
  f.value[kSince].kind = Kind::Object;
  od::object obj;
  if (error_code e = v.get_object().get(obj)) return e;
  for (auto result : obj) {
    od::field field;
    if (error_code e = std::move(result).get(field)) return e;
    std::string_view key;
    if (error_code e = field.unescaped_key().get(key)) return e;
    Captured* slot = key == "epoch" ? &f.sinceEpoch : key == "seq" ? &f.sinceSeq : nullptr;
    Captured ignored;
    if (slot != nullptr && slot->kind != Kind::Absent) {
      f.sinceDuplicate = true;
      slot = nullptr;
    }
    if (error_code e = capture(field.value(), slot != nullptr ? *slot : ignored, 3)) return e;
  }
  return SUCCESS;
}

// Walks the whole document (a top-level object), filling `f`.
error_code walkRequest(od::document& doc, Fields& f) {
  od::object obj;
  if (error_code e = doc.get_object().get(obj)) return e;
  for (auto result : obj) {
    od::field field;
    if (error_code e = std::move(result).get(field)) return e;
    std::string_view key;
    if (error_code e = field.unescaped_key().get(key)) return e;
    od::value& value = field.value();
    const int idx = fieldIndex(key);
    Captured ignored;
    if (idx < 0) {
      if (error_code e = capture(value, ignored, 2)) return e;
      continue;
    }
    if (f.value[idx].kind != Kind::Absent) {
      if (f.duplicate < 0) f.duplicate = idx;
      if (error_code e = capture(value, ignored, 2)) return e;
      continue;
    }
    if (idx == kSince) {
      if (error_code e = captureSince(value, f)) return e;
    } else if (idx == kData) {
      // Delimit the raw bytes: from the value's first token to the iterator's position after it
      // (the ',' or '}' that follows), minus whitespace.
      const char* begin = value.raw_json_token().data();
      if (error_code e = capture(value, f.value[kData], 2)) return e;
      const char* end = nullptr;
      if (error_code e = doc.current_location().get(end)) return e;
      f.rawData = trimRight(std::string_view(begin, static_cast<size_t>(end - begin)));
    } else {
      if (error_code e = capture(value, f.value[idx], 2)) return e;
    }
  }
  // The object must be the whole document.
  const char* trailing = nullptr;
  if (doc.current_location().get(trailing) == SUCCESS) return simdjson::TRAILING_CONTENT;
  return SUCCESS;
}

bool readUnsigned(const Captured& c, uint64_t& out) {
  if (c.kind == Kind::Uint64) {
    out = c.u;
    return true;
  }
  if (c.kind == Kind::Int64 && c.i >= 0) {
    out = static_cast<uint64_t>(c.i);
    return true;
  }
  return false;
}

// Built by appending: g++ 12 -O3 reports a false -Wrestrict on `"literal" + std::string(...)`.
DecodeError message(std::string_view a, std::string_view b, std::string_view c = {}) {
  DecodeError e;
  e.message.reserve(a.size() + b.size() + c.size());
  e.message.append(a).append(b).append(c);
  return e;
}

DecodeError needString(const Captured& c, std::string_view name, std::string_view& out) {
  if (c.kind == Kind::Absent) return message("missing \"", name, "\"");
  if (c.kind != Kind::String) return message("\"", name, "\" must be a string");
  out = c.str;
  return {};
}

DecodeError needString(const Fields& f, Field which, std::string_view& out) {
  return needString(f[which], kFieldNames[which], out);
}

DecodeError decodeSince(const Fields& f, ClientRequest& out) {
  if (f[kSince].kind != Kind::Object) return {"\"since\" must be an object"};
  if (f.sinceDuplicate) return {"duplicate field in \"since\""};
  if (f.sinceEpoch.kind == Kind::Absent || f.sinceSeq.kind == Kind::Absent) {
    return {"\"since\" needs \"epoch\" and \"seq\""};
  }
  if (f.sinceEpoch.kind != Kind::String || !parseEpoch(f.sinceEpoch.str)) {
    return {"\"since.epoch\" must be 16 lowercase hex digits"};
  }
  if (!readUnsigned(f.sinceSeq, out.sinceSeq)) return {"\"since.seq\" must be an unsigned integer"};
  out.sinceEpoch = f.sinceEpoch.str;
  out.hasSince = true;
  return {};
}

DecodeError decodeHistRange(const Fields& f, ClientRequest& out) {
  uint64_t v = 0;
  if (f.present(kBefore)) {
    if (!readUnsigned(f[kBefore], v)) return {"\"before\" must be an unsigned integer"};
    out.before = v;
  }
  if (f.present(kAfter)) {
    if (!readUnsigned(f[kAfter], v)) return {"\"after\" must be an unsigned integer"};
    out.after = v;
  }
  if (out.before && out.after) return {"\"before\" and \"after\" are exclusive"};
  if (f.present(kLimit)) {
    if (!readUnsigned(f[kLimit], v) || v < 1 || v > kMaxHistLimit) {
      return {"\"limit\" must be an integer from 1 to 200"};
    }
    out.limit = static_cast<uint32_t>(v);
  }
  return {};
}

ClientOp opFromName(std::string_view name) {
  if (name == "auth") return ClientOp::Auth;
  if (name == "sub") return ClientOp::Sub;
  if (name == "unsub") return ClientOp::Unsub;
  if (name == "pub") return ClientOp::Pub;
  if (name == "hist") return ClientOp::Hist;
  return ClientOp::Unknown;
}

DecodeError invalidJson(error_code e) { return message("invalid JSON: ", simdjson::error_message(e)); }

}  // namespace

RequestDecoder::RequestDecoder() : impl_(std::make_unique<Impl>()) {}
RequestDecoder::~RequestDecoder() = default;
RequestDecoder::RequestDecoder(RequestDecoder&&) noexcept = default;
RequestDecoder& RequestDecoder::operator=(RequestDecoder&&) noexcept = default;

DecodeError RequestDecoder::decode(std::string_view frame, ClientRequest& out) {
  out = ClientRequest{};
  Impl& im = *impl_;
  im.load(frame);

  od::document doc;
  const simdjson::padded_string_view input(im.buffer.get(), frame.size(), frame.size() + simdjson::SIMDJSON_PADDING);
  if (error_code e = im.parser.iterate(input).get(doc)) return invalidJson(e);
  od::json_type rootType;
  if (error_code e = doc.type().get(rootType)) return invalidJson(e);
  if (rootType != od::json_type::object) return {"request must be a JSON object"};
  Fields f;
  // Nothing is reported from a frame that is not valid JSON, not even its id.
  if (error_code e = walkRequest(doc, f)) return invalidJson(e);

  // id first, so even a failed request can be answered with its id. A duplicated id is ambiguous.
  if (f.duplicate != kId && f[kId].kind == Kind::Int64) {
    out.id = f[kId].i;
    out.hasId = true;
  }
  if (f.duplicate >= 0) return message("duplicate field \"", kFieldNames[f.duplicate], "\"");
  if (DecodeError e = needString(f, kOp, out.opName); !e.ok()) return e;
  if (f[kId].kind == Kind::Absent) return {"missing \"id\""};
  if (!out.hasId) return {"\"id\" must be an integer"};

  out.op = opFromName(out.opName);
  switch (out.op) {
    case ClientOp::Auth:
      return needString(f, kToken, out.token);
    case ClientOp::Sub:
      if (DecodeError e = needString(f, kCh, out.ch); !e.ok()) return e;
      if (f.present(kSince)) return decodeSince(f, out);
      return {};
    case ClientOp::Unsub:
      return needString(f, kCh, out.ch);
    case ClientOp::Pub:
      if (DecodeError e = needString(f, kCh, out.ch); !e.ok()) return e;
      if (f[kData].kind == Kind::Absent) return {"missing \"data\""};
      if (DecodeError e = needString(f, kCid, out.cid); !e.ok()) return e;
      if (out.cid.empty() || out.cid.size() > kMaxCidBytes) return {"\"cid\" must be 1 to 64 bytes"};
      out.data = f.rawData;
      return {};
    case ClientOp::Hist:
      if (DecodeError e = needString(f, kCh, out.ch); !e.ok()) return e;
      return decodeHistRange(f, out);
    case ClientOp::Unknown:
      return {};
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// JsonWriter

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// Length of the well-formed UTF-8 sequence starting at p (Unicode Table 3-7), or 0 if it is not
// well-formed (stray continuation, overlong form, surrogate, beyond U+10FFFF, truncated).
size_t utf8SequenceLength(const unsigned char* p, size_t n) {
  const unsigned char b0 = p[0];
  auto cont = [&](size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return i < n && p[i] >= lo && p[i] <= hi;
  };
  if (b0 < 0x80) return 1;
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1) ? 2 : 0;
  if (b0 == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (b0 == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
  if (b0 == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b0 >= 0xF1 && b0 <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b0 == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

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

JsonWriter& JsonWriter::integer(int64_t v) {
  beforeValue();
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out_.append(buf, r.ptr);
  needComma_ = true;
  return *this;
}

JsonWriter& JsonWriter::uinteger(uint64_t v) {
  beforeValue();
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out_.append(buf, r.ptr);
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

// ---------------------------------------------------------------------------------------------
// Epochs

std::string formatEpoch(uint64_t epoch) {
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<size_t>(i)] = kHexDigits[epoch & 0xF];
    epoch >>= 4;
  }
  return out;
}

std::optional<uint64_t> parseEpoch(std::string_view text) {
  if (text.size() != 16) return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    uint64_t digit = 0;
    if (c >= '0' && c <= '9') {
      digit = static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<uint64_t>(c - 'a' + 10);
    } else {
      return std::nullopt;
    }
    v = (v << 4) | digit;
  }
  return v;
}

}  // namespace webim
