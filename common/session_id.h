// Session ids of the HTTP fallback (docs/protocol.md section 2). `POST /session` trades a token for a
// sid that any frontend process can verify without shared state: the sid is itself an HS256 JWT
// carrying the token's user, expiry and grants plus 128 random bits (jti), signed with a key
// derived from the token secret (HMAC-SHA256(secret, "webim-sid-v1")). A token is therefore never
// a valid sid and a sid never a valid token, and rotating the token secrets rotates sids too.
// The grants travel in the sid itself (not only a digest) so that /events and /cmd can check them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/token.h"

namespace webim {

std::string deriveSessionKey(std::string_view tokenSecret);

class SessionIds {
 public:
  // tokenSecrets: the same secrets (>= 32 bytes) the token verifier uses; the first one signs.
  // leewaySeconds and maxLifetimeSeconds: as for TokenVerifier (a sid carries its token's exp, so a
  // sid beyond the maximum lifetime is refused as TooLong, whichever frontend issued it).
  explicit SessionIds(const std::vector<std::string>& tokenSecrets, int64_t leewaySeconds = 30,
                      int64_t maxLifetimeSeconds = 0);
  // `nonce` must be 16 random bytes; the sid expires with the token (claims.exp).
  std::string issue(const TokenClaims& claims, std::string_view nonce) const;
  TokenResult verify(std::string_view sid, int64_t nowSeconds) const;

 private:
  static std::vector<std::string> deriveAll(const std::vector<std::string>& secrets);
  std::string signKey_;
  TokenVerifier verifier_;
};

}  // namespace webim
