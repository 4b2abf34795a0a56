#include "common/session_id.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

#include "common/base64.h"

namespace webim {

namespace {
constexpr std::string_view kSessionKeyLabel = "webim-sid-v1";
}  // namespace

std::string deriveSessionKey(std::string_view tokenSecret) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), tokenSecret.data(), static_cast<int>(tokenSecret.size()),
           reinterpret_cast<const unsigned char*>(kSessionKeyLabel.data()), kSessionKeyLabel.size(), out,
           &length) == nullptr) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return std::string(reinterpret_cast<const char*>(out), length);
}

std::vector<std::string> SessionIds::deriveAll(const std::vector<std::string>& secrets) {
  std::vector<std::string> keys;
  keys.reserve(secrets.size());
  for (const std::string& secret : secrets) keys.push_back(deriveSessionKey(secret));
  return keys;
}

SessionIds::SessionIds(const std::vector<std::string>& tokenSecrets, int64_t leewaySeconds,
                       int64_t maxLifetimeSeconds)
    : signKey_(tokenSecrets.empty() ? std::string() : deriveSessionKey(tokenSecrets.front())),
      verifier_(deriveAll(tokenSecrets), leewaySeconds, maxLifetimeSeconds) {}

std::string SessionIds::issue(const TokenClaims& claims, std::string_view nonce) const {
  TokenClaims sid = claims;
  sid.jti = base64UrlEncode(nonce);
  return issueToken(sid, signKey_);
}

TokenResult SessionIds::verify(std::string_view sid, int64_t nowSeconds) const {
  TokenResult result = verifier_.verify(sid, nowSeconds);
  // A sid always carries its nonce; a JWT without one was not made by issue().
  if (result.error == TokenError::None && result.claims.jti.empty()) result.error = TokenError::MissingClaim;
  return result;
}

}  // namespace webim
