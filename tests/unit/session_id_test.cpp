#include "common/session_id.h"

#include <catch2/catch.hpp>

#include "common/token.h"

using namespace webim;

namespace {
const std::string kSecret(40, 's');
const std::string kOther(40, 'o');

TokenClaims claims(int64_t exp) {
  TokenClaims c;
  c.sub = "42";
  c.exp = exp;
  c.subscribe = {"room:*"};
  c.publish = {"room:a"};
  return c;
}
}  // namespace

TEST_CASE("a session id carries the token's user, expiry and grants", "[session_id]") {
  SessionIds ids({kSecret});
  std::string sid = ids.issue(claims(2000), std::string(16, '\x07'));
  TokenResult r = ids.verify(sid, 1000);
  REQUIRE(r.error == TokenError::None);
  CHECK(r.claims.sub == "42");
  CHECK(r.claims.exp == 2000);
  CHECK(r.claims.subscribe == std::vector<std::string>{"room:*"});
  CHECK(r.claims.publish == std::vector<std::string>{"room:a"});
  CHECK(r.claims.jti.size() == 22);  // 16 bytes, base64url
}

TEST_CASE("two sessions of one token differ by their nonce", "[session_id]") {
  SessionIds ids({kSecret});
  CHECK(ids.issue(claims(2000), std::string(16, 'a')) != ids.issue(claims(2000), std::string(16, 'b')));
}

TEST_CASE("a token is not a session id and a session id is not a token", "[session_id]") {
  SessionIds ids({kSecret});
  TokenVerifier tokens({kSecret});
  std::string token = issueToken(claims(2000), kSecret);
  CHECK(ids.verify(token, 1000).error == TokenError::BadSignature);
  std::string sid = ids.issue(claims(2000), std::string(16, 'n'));
  CHECK(tokens.verify(sid, 1000).error == TokenError::BadSignature);
}

TEST_CASE("session ids expire with the token and follow secret rotation", "[session_id]") {
  SessionIds old({kOther});
  std::string sid = old.issue(claims(2000), std::string(16, 'n'));
  CHECK(SessionIds({kSecret, kOther}).verify(sid, 1000).error == TokenError::None);  // rotation
  CHECK(SessionIds({kSecret}).verify(sid, 1000).error == TokenError::BadSignature);   // retired
  CHECK(old.verify(sid, 2000 + 31).error == TokenError::Expired);
  std::string tampered = sid;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  CHECK(old.verify(tampered, 1000).error != TokenError::None);
}

TEST_CASE("a JWT signed with the session key but without a nonce is refused", "[session_id]") {
  std::string forged = issueToken(claims(2000), deriveSessionKey(kSecret));
  CHECK(SessionIds({kSecret}).verify(forged, 1000).error == TokenError::MissingClaim);
}

TEST_CASE("a session id beyond the maximum token lifetime is refused", "[session_id]") {
  // Issued by a frontend that allows a year, checked by one that allows a week (the sid carries
  // its token's exp).
  const std::string sid = SessionIds({kSecret}, 30, 365 * 86400).issue(claims(1000 + 30 * 86400), std::string(16, 'n'));
  CHECK(SessionIds({kSecret}, 30, 365 * 86400).verify(sid, 1000).error == TokenError::None);
  CHECK(SessionIds({kSecret}, 30, 7 * 86400).verify(sid, 1000).error == TokenError::TooLong);
  CHECK(SessionIds({kSecret}, 30, 7 * 86400).verify(sid, 1000 + 23 * 86400).error == TokenError::None);
}
