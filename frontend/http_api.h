// The HTTP API for apps without php-zmq (docs/protocol.md section 4): POST /api/publish, /api/hist,
// /api/kick, /api/stats with `Authorization: Bearer <api key>`, the same JSON bodies and replies as
// the hub's app ingress. The frontend relays the body to the hub (AppCall) and maps the reply's
// error code to an HTTP status. Pure helpers here; the I/O is in Connection.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace webim {

class JsonObjectReader;

// "/api/publish" -> "pub", ...; nullopt for an unknown path.
std::optional<std::string_view> apiOpForPath(std::string_view path);

// An app error reply: {"ok":false,"code":...,"msg":...} (the hub's app ingress shape).
std::string apiError(std::string_view code, std::string_view message);

// HTTP status for an app reply: 200 for {"ok":true,...}, else by its "code".
// `reader` is reused (its members() are replaced).
int apiStatusForReply(JsonObjectReader& reader, std::string_view replyJson);

// API keys, compared in constant time (SHA-256 digests compared with CRYPTO_memcmp, so neither
// the content nor the length of a key leaks through timing).
class ApiKeys {
 public:
  ApiKeys() = default;
  explicit ApiKeys(const std::vector<std::string>& keys);
  bool enabled() const noexcept { return !digests_.empty(); }
  // `authorization` is the Authorization header's value ("Bearer <key>").
  bool accepts(std::string_view authorization) const;

 private:
  std::vector<std::array<uint8_t, 32>> digests_;
};

}  // namespace webim
