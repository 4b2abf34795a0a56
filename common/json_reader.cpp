#include "common/json_reader.h"

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

namespace webim {

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

}  // namespace webim
