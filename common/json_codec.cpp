#include "common/json_codec.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <utility>

namespace webim {

// ---------------------------------------------------------------------------------------------
// JsonObjectReader
//
// One simdjson On-Demand pass that visits every value: each is fully validated (numbers, atoms,
// string escapes; stage 1 already checked UTF-8 and unescaped control characters), and each
// member's kind and scalar content are recorded on the way. The DOM API is not used because
// simdjson 3.0.1's DOM rejects integers beyond 64 bits, which "data" must relay unchanged. A
// member's raw bytes are delimited by the position of its value's first token and the iterator's
// position after validating it, so they come straight from the input buffer.

namespace od = simdjson::ondemand;

struct JsonObjectReader::Impl {
  od::parser parser;
  std::unique_ptr<char[]> buffer;
  size_t capacity = 0;  // usable bytes in `buffer`, excluding SIMDJSON_PADDING
  std::vector<JsonMember> members;

  // Copies the input into the padded buffer, growing it (never shrinking: one reader per loop).
  void load(std::string_view json) {
    if (!buffer || json.size() > capacity) {
      buffer = std::make_unique<char[]>(json.size() + simdjson::SIMDJSON_PADDING);
      capacity = json.size();
    }
    if (!json.empty()) std::memcpy(buffer.get(), json.data(), json.size());
    std::memset(buffer.get() + json.size(), 0, simdjson::SIMDJSON_PADDING);
  }
};

namespace {

using simdjson::error_code;
using simdjson::SUCCESS;

bool isJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trimRight(std::string_view s) {
  while (!s.empty() && isJsonSpace(s.back())) s.remove_suffix(1);
  return s;
}

error_code validateValue(od::value& v, JsonValue& out, int depth);

error_code validateObject(od::value& v, int depth) {
  od::object obj;
  if (error_code e = v.get_object().get(obj)) return e;
  for (auto result : obj) {
    od::field field;
    if (error_code e = std::move(result).get(field)) return e;
    std::string_view key;
    if (error_code e = field.unescaped_key().get(key)) return e;
    JsonValue ignored;
    if (error_code e = validateValue(field.value(), ignored, depth + 1)) return e;
  }
  return SUCCESS;
}

error_code validateArray(od::value& v, int depth) {
  od::array arr;
  if (error_code e = v.get_array().get(arr)) return e;
  for (auto result : arr) {
    od::value item;
    if (error_code e = std::move(result).get(item)) return e;
    JsonValue ignored;
    if (error_code e = validateValue(item, ignored, depth + 1)) return e;
  }
  return SUCCESS;
}

// Validates `v` completely (recursively) and records its type and scalar content (not `raw`).
error_code validateValue(od::value& v, JsonValue& out, int depth) {
  if (depth > kMaxJsonDepth) return simdjson::DEPTH_ERROR;
  od::json_type type;
  if (error_code e = v.type().get(type)) return e;
  switch (type) {
    case od::json_type::object:
      out.type = JsonType::Object;
      return validateObject(v, depth);
    case od::json_type::array:
      out.type = JsonType::Array;
      return validateArray(v, depth);
    case od::json_type::string:
      out.type = JsonType::String;
      return v.get_string().get(out.str);
    case od::json_type::number: {
      // Scalar getters only consume the value on success, so the next one may be tried.
      if (v.get_int64().get(out.i) == SUCCESS) {
        out.type = JsonType::Int64;
        return SUCCESS;
      }
      if (v.get_uint64().get(out.u) == SUCCESS) {
        out.type = JsonType::Uint64;
        return SUCCESS;
      }
      double ignored = 0;  // any other valid number, e.g. 1.5 or an integer beyond 64 bits
      out.type = JsonType::Number;
      return v.get_double().get(ignored);
    }
    case od::json_type::boolean:
      out.type = JsonType::Bool;
      return v.get_bool().get(out.b);
    case od::json_type::null: {
      bool isNull = false;
      if (error_code e = v.is_null().get(isNull)) return e;
      out.type = JsonType::Null;
      return isNull ? SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
  return simdjson::TAPE_ERROR;
}

error_code readMember(od::document& doc, od::field& field, std::vector<JsonMember>& members, size_t parent,
                      int depth, std::span<const std::string_view> expand);

// Reads one value (fully validated) into `members` under `key`. With `expandThis`, an object's
// members, or an array's elements (key "", objects among them expanded in turn), follow it.
error_code readValue(od::document& doc, od::value& value, std::string_view key, std::vector<JsonMember>& members,
                     size_t parent, int depth, std::span<const std::string_view> expand, bool expandThis) {
  if (depth > kMaxJsonDepth) return simdjson::DEPTH_ERROR;
  const char* begin = value.raw_json_token().data();
  const size_t index = members.size();
  members.push_back(JsonMember{key, {}, parent});

  bool expanded = false;
  if (expandThis) {
    od::json_type type;
    if (error_code e = value.type().get(type)) return e;
    if (type == od::json_type::object) {
      expanded = true;
      members[index].value.type = JsonType::Object;
      od::object obj;
      if (error_code e = value.get_object().get(obj)) return e;
      for (auto result : obj) {
        od::field child;
        if (error_code e = std::move(result).get(child)) return e;
        if (error_code e = readMember(doc, child, members, index, depth + 1, expand)) return e;
      }
    } else if (type == od::json_type::array) {
      expanded = true;
      members[index].value.type = JsonType::Array;
      od::array arr;
      if (error_code e = value.get_array().get(arr)) return e;
      for (auto result : arr) {
        od::value item;
        if (error_code e = std::move(result).get(item)) return e;
        od::json_type itemType;
        if (error_code e = item.type().get(itemType)) return e;
        if (error_code e = readValue(doc, item, {}, members, index, depth + 1, expand, itemType == od::json_type::object)) {
          return e;
        }
      }
    }
  }
  if (!expanded) {
    if (error_code e = validateValue(value, members[index].value, depth)) return e;
  }
  // The iterator now stands on the ',', '}' or ']' after the value.
  const char* end = nullptr;
  if (error_code e = doc.current_location().get(end)) return e;
  members[index].value.raw = trimRight(std::string_view(begin, static_cast<size_t>(end - begin)));
  return SUCCESS;
}

// Reads one member (key and value, fully validated) into `members`; a member whose key is in
// `expand` (at the top level, or inside an expanded value) has its value expanded (readValue).
error_code readMember(od::document& doc, od::field& field, std::vector<JsonMember>& members, size_t parent,
                      int depth, std::span<const std::string_view> expand) {
  std::string_view key;
  if (error_code e = field.unescaped_key().get(key)) return e;
  const bool expandThis = std::find(expand.begin(), expand.end(), key) != expand.end();
  return readValue(doc, field.value(), key, members, parent, depth, expand, expandThis);
}

// Walks the whole document (a top-level object) into `members`.
error_code walkObject(od::document& doc, std::vector<JsonMember>& members, std::span<const std::string_view> expand) {
  od::object obj;
  if (error_code e = doc.get_object().get(obj)) return e;
  for (auto result : obj) {
    od::field field;
    if (error_code e = std::move(result).get(field)) return e;
    if (error_code e = readMember(doc, field, members, kJsonTopLevel, 2, expand)) return e;
  }
  // The object must be the whole document.
  const char* trailing = nullptr;
  if (doc.current_location().get(trailing) == SUCCESS) return simdjson::TRAILING_CONTENT;
  return SUCCESS;
}

}  // namespace

JsonObjectReader::JsonObjectReader() : impl_(std::make_unique<Impl>()) {}
JsonObjectReader::~JsonObjectReader() = default;
JsonObjectReader::JsonObjectReader(JsonObjectReader&&) noexcept = default;
JsonObjectReader& JsonObjectReader::operator=(JsonObjectReader&&) noexcept = default;

JsonReadStatus JsonObjectReader::read(std::string_view json, std::span<const std::string_view> expand) {
  Impl& im = *impl_;
  im.members.clear();
  im.load(json);
  const auto invalid = [&im](error_code e) {
    im.members.clear();
    return JsonReadStatus{JsonReadStatus::InvalidJson, simdjson::error_message(e)};
  };

  od::document doc;
  const simdjson::padded_string_view input(im.buffer.get(), json.size(), json.size() + simdjson::SIMDJSON_PADDING);
  if (error_code e = im.parser.iterate(input).get(doc)) return invalid(e);
  od::json_type rootType;
  if (error_code e = doc.type().get(rootType)) return invalid(e);
  if (rootType != od::json_type::object) return {JsonReadStatus::NotAnObject, {}};
  if (error_code e = walkObject(doc, im.members, expand)) return invalid(e);
  return {};
}

std::span<const JsonMember> JsonObjectReader::members() const noexcept { return impl_->members; }

// ---------------------------------------------------------------------------------------------
// RequestDecoder: the client request fields on top of JsonObjectReader.

struct RequestDecoder::Impl {
  JsonObjectReader reader;
};

namespace {

// The request fields the decoder knows; each may appear at most once.
enum Field { kOp, kId, kToken, kCh, kCid, kData, kSince, kBefore, kAfter, kLimit, kSubs, kFieldCount };
constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "op", "id", "token", "ch", "cid", "data", "since", "before", "after", "limit", "subs"};
constexpr std::array<std::string_view, 2> kExpanded = {"since", "subs"};

int fieldIndex(std::string_view key) {
  for (size_t i = 0; i < kFieldCount; ++i) {
    if (kFieldNames[i] == key) return static_cast<int>(i);
  }
  return -1;
}

struct Fields {
  std::array<const JsonValue*, kFieldCount> value{};  // nullptr = absent
  const JsonValue* sinceEpoch = nullptr;
  const JsonValue* sinceSeq = nullptr;
  int duplicate = -1;  // first known field seen twice
  bool sinceDuplicate = false;
  size_t subsIndex = kJsonTopLevel;  // index of "subs" in the reader's members()

  const JsonValue* operator[](Field f) const { return value[f]; }
  // Optional fields given as null are treated as absent.
  bool present(Field f) const { return value[f] != nullptr && value[f]->type != JsonType::Null; }
};

// Sorts the reader's members into the known fields (the members of the first "since" included).
void collectFields(std::span<const JsonMember> members, Fields& f) {
  size_t sinceIndex = kJsonTopLevel;
  for (size_t i = 0; i < members.size(); ++i) {
    const JsonMember& m = members[i];
    if (m.parent != kJsonTopLevel) {
      if (m.parent != sinceIndex) continue;  // a later, duplicate "since"
      const JsonValue** slot = m.key == "epoch" ? &f.sinceEpoch : m.key == "seq" ? &f.sinceSeq : nullptr;
      if (slot == nullptr) continue;  // other members of "since" are ignored
      if (*slot != nullptr) {
        f.sinceDuplicate = true;
      } else {
        *slot = &m.value;
      }
      continue;
    }
    const int idx = fieldIndex(m.key);
    if (idx < 0) continue;
    if (f.value[idx] != nullptr) {
      if (f.duplicate < 0) f.duplicate = idx;
      continue;
    }
    f.value[idx] = &m.value;
    if (idx == kSince) sinceIndex = i;
    if (idx == kSubs) f.subsIndex = i;
  }
}

// Built by appending: g++ 12 -O3 reports a false -Wrestrict on `"literal" + std::string(...)`.
DecodeError message(std::string_view a, std::string_view b, std::string_view c = {}) {
  DecodeError e;
  e.message.reserve(a.size() + b.size() + c.size());
  e.message.append(a).append(b).append(c);
  return e;
}

DecodeError needString(const JsonValue* v, std::string_view name, std::string_view& out) {
  if (v == nullptr) return message("missing \"", name, "\"");
  if (v->type != JsonType::String) return message("\"", name, "\" must be a string");
  out = v->str;
  return {};
}

DecodeError needString(const Fields& f, Field which, std::string_view& out) {
  return needString(f[which], kFieldNames[which], out);
}

// A `since` object's members, checked: {"epoch": 16 lowercase hex digits, "seq": unsigned}.
DecodeError decodeSinceValue(const JsonValue& since, bool duplicate, const JsonValue* epoch, const JsonValue* seq,
                             SubEntry& out) {
  if (since.type != JsonType::Object) return {"\"since\" must be an object"};
  if (duplicate) return {"duplicate field in \"since\""};
  if (epoch == nullptr || seq == nullptr) return {"\"since\" needs \"epoch\" and \"seq\""};
  if (epoch->type != JsonType::String || !parseEpoch(epoch->str)) {
    return {"\"since.epoch\" must be 16 lowercase hex digits"};
  }
  if (!seq->getUnsigned(out.sinceSeq)) return {"\"since.seq\" must be an unsigned integer"};
  out.sinceEpoch = epoch->str;
  out.hasSince = true;
  return {};
}

DecodeError decodeSince(const Fields& f, ClientRequest& out) {
  SubEntry entry;
  if (DecodeError e = decodeSinceValue(*f[kSince], f.sinceDuplicate, f.sinceEpoch, f.sinceSeq, entry); !e.ok()) return e;
  out.hasSince = true;
  out.sinceEpoch = entry.sinceEpoch;
  out.sinceSeq = entry.sinceSeq;
  return {};
}

// `subs`: [{ch, since?}, ...], read from the expanded members after index `at` (members() order:
// the array, each element, the element's members, a since's members).
DecodeError decodeSubs(std::span<const JsonMember> members, size_t at, ClientRequest& out) {
  if (members[at].value.type != JsonType::Array) return {"\"subs\" must be an array"};
  std::vector<size_t> elements;
  for (size_t i = at + 1; i < members.size(); ++i) {
    if (members[i].parent == at) elements.push_back(i);
  }
  if (elements.empty()) return {"\"subs\" must list at least one channel"};
  if (elements.size() > kMaxSubBatch) {
    DecodeError e = message("\"subs\" lists more than ", std::to_string(kMaxSubBatch), " channels");
    e.tooLarge = true;
    return e;
  }
  out.subs.reserve(elements.size());
  for (size_t element : elements) {
    if (members[element].value.type != JsonType::Object) return {"each entry of \"subs\" must be an object"};
    const JsonValue* ch = nullptr;
    const JsonValue* since = nullptr;
    size_t sinceAt = kJsonTopLevel;
    for (size_t i = element + 1; i < members.size(); ++i) {
      if (members[i].parent != element) continue;
      const JsonValue** slot = members[i].key == "ch" ? &ch : members[i].key == "since" ? &since : nullptr;
      if (slot == nullptr) continue;  // unknown fields are ignored
      if (*slot != nullptr) return message("duplicate field \"", members[i].key, "\" in an entry of \"subs\"");
      *slot = &members[i].value;
      if (slot == &since) sinceAt = i;
    }
    SubEntry entry;
    if (DecodeError e = needString(ch, "ch", entry.ch); !e.ok()) return e;
    if (since != nullptr && since->type != JsonType::Null) {
      const JsonValue* epoch = nullptr;
      const JsonValue* seq = nullptr;
      bool duplicate = false;
      for (size_t i = sinceAt + 1; i < members.size(); ++i) {
        if (members[i].parent != sinceAt) continue;
        const JsonValue** slot = members[i].key == "epoch" ? &epoch : members[i].key == "seq" ? &seq : nullptr;
        if (slot == nullptr) continue;
        if (*slot != nullptr) duplicate = true;
        *slot = &members[i].value;
      }
      if (DecodeError e = decodeSinceValue(*since, duplicate, epoch, seq, entry); !e.ok()) return e;
    }
    out.subs.push_back(entry);
  }
  return {};
}

DecodeError decodeHistRange(const Fields& f, ClientRequest& out) {
  uint64_t v = 0;
  if (f.present(kBefore)) {
    if (!f[kBefore]->getUnsigned(v)) return {"\"before\" must be an unsigned integer"};
    out.before = v;
  }
  if (f.present(kAfter)) {
    if (!f[kAfter]->getUnsigned(v)) return {"\"after\" must be an unsigned integer"};
    out.after = v;
  }
  if (out.before && out.after) return {"\"before\" and \"after\" are exclusive"};
  if (f.present(kLimit)) {
    if (!f[kLimit]->getUnsigned(v) || v < 1 || v > kMaxHistLimit) {
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

}  // namespace

RequestDecoder::RequestDecoder() : impl_(std::make_unique<Impl>()) {}
RequestDecoder::~RequestDecoder() = default;
RequestDecoder::RequestDecoder(RequestDecoder&&) noexcept = default;
RequestDecoder& RequestDecoder::operator=(RequestDecoder&&) noexcept = default;

DecodeError RequestDecoder::decode(std::string_view frame, ClientRequest& out) {
  out = ClientRequest{};
  JsonObjectReader& reader = impl_->reader;
  // Nothing is reported from a frame that is not valid JSON, not even its id.
  const JsonReadStatus status = reader.read(frame, kExpanded);
  if (status.code == JsonReadStatus::NotAnObject) return {"request must be a JSON object"};
  if (!status.ok()) return message("invalid JSON: ", status.detail);
  Fields f;
  collectFields(reader.members(), f);

  // id first, so even a failed request can be answered with its id. A duplicated id is ambiguous.
  if (f.duplicate != kId && f[kId] != nullptr && f[kId]->type == JsonType::Int64) {
    out.id = f[kId]->i;
    out.hasId = true;
  }
  if (f.duplicate >= 0) return message("duplicate field \"", kFieldNames[f.duplicate], "\"");
  if (DecodeError e = needString(f, kOp, out.opName); !e.ok()) return e;
  if (f[kId] == nullptr) return {"missing \"id\""};
  if (!out.hasId) return {"\"id\" must be an integer"};

  out.op = opFromName(out.opName);
  switch (out.op) {
    case ClientOp::Auth:
      return needString(f, kToken, out.token);
    case ClientOp::Sub:
      if (f.present(kSubs)) {
        if (f[kCh] != nullptr || f[kSince] != nullptr) return {"give \"ch\" (and \"since\") or \"subs\", not both"};
        return decodeSubs(reader.members(), f.subsIndex, out);
      }
      if (DecodeError e = needString(f, kCh, out.ch); !e.ok()) return e;
      if (f.present(kSince)) return decodeSince(f, out);
      return {};
    case ClientOp::Unsub:
      return needString(f, kCh, out.ch);
    case ClientOp::Pub:
      if (DecodeError e = needString(f, kCh, out.ch); !e.ok()) return e;
      if (f[kData] == nullptr) return {"missing \"data\""};
      if (DecodeError e = needString(f, kCid, out.cid); !e.ok()) return e;
      if (out.cid.empty() || out.cid.size() > kMaxCidBytes) return {"\"cid\" must be 1 to 64 bytes"};
      out.data = f[kData]->raw;
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
