#include "frontend/http_api.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "common/http_request_parser.h"
#include "common/json_reader.h"
#include "common/json_writer.h"

namespace webim {

namespace {
std::array<uint8_t, 32> digest(std::string_view bytes) {
  std::array<uint8_t, 32> out{};
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), out.data());
  return out;
}
}  // namespace

std::string apiError(std::string_view code, std::string_view message) {
  std::string out;
  JsonWriter(out).beginObject().key("ok").boolean(false).key("code").string(code).key("msg").string(message).endObject();
  return out;
}

std::optional<std::string_view> apiOpForPath(std::string_view path) {
  if (path == "/api/publish") return "pub";
  if (path == "/api/hist") return "hist";
  if (path == "/api/kick") return "kick";
  if (path == "/api/edit") return "edit";
  if (path == "/api/delete") return "delete";
  if (path == "/api/erase_user") return "erase_user";
  if (path == "/api/erase_status") return "erase_status";
  if (path == "/api/stats") return "stats";
  if (path == "/api/read") return "read";
  if (path == "/api/unread") return "unread";
  if (path == "/api/conversations") return "conversations";
  if (path == "/api/online") return "online";
  if (path == "/api/presence") return "presence";
  if (path == "/api/presence_stats") return "presence_stats";
  return std::nullopt;
}

int apiStatusForReply(JsonObjectReader& reader, std::string_view replyJson) {
  if (!reader.read(replyJson).ok()) return 502;  // the hub always answers JSON objects
  std::string_view code;
  for (const JsonMember& m : reader.members()) {
    if (m.parent != kJsonTopLevel) continue;
    if (m.key == "ok" && m.value.type == JsonType::Bool && m.value.b) return 200;
    if (m.key == "code" && m.value.type == JsonType::String) code = m.value.str;
  }
  if (code == "bad_request") return 400;
  if (code == "forbidden") return 403;
  if (code == "not_found") return 404;
  if (code == "wrong_shard") return 409;
  if (code == "too_large") return 413;
  if (code == "rate_limited") return 429;
  if (code == "unavailable") return 503;
  return 500;
}

ApiKeys::ApiKeys(const std::vector<std::string>& keys) {
  for (const std::string& key : keys) digests_.push_back(digest(key));
}

bool ApiKeys::accepts(std::string_view authorization) const {
  constexpr std::string_view kScheme = "Bearer ";  // the scheme is case-insensitive (RFC 9110)
  if (authorization.size() <= kScheme.size() || !equalsIgnoreCase(authorization.substr(0, kScheme.size()), kScheme)) {
    return false;
  }
  std::array<uint8_t, 32> given = digest(authorization.substr(kScheme.size()));
  bool match = false;
  for (const auto& d : digests_) match |= CRYPTO_memcmp(d.data(), given.data(), d.size()) == 0;
  return match;
}

}  // namespace webim
