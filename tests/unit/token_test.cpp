#include "common/token.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <catch2/catch.hpp>

#include <limits>
#include <stdexcept>
#include <string>

#include "common/base64.h"

using namespace webim;

namespace {

const std::string kSecret = "0123456789abcdef0123456789abcdef";  // 32 bytes
const std::string kOtherSecret = "another-secret-of-at-least-32-bytes!";
constexpr int64_t kNow = 1'800'000'000;

// Signs arbitrary header/payload JSON, so tests can build tokens issueToken never would.
std::string sign(std::string_view header, std::string_view payload, const std::string& secret = kSecret) {
  std::string input = base64UrlEncode(header) + "." + base64UrlEncode(payload);
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + base64UrlEncode(std::string_view(reinterpret_cast<const char*>(mac), len));
}

std::string signPayload(std::string_view payload) { return sign(R"({"alg":"HS256","typ":"JWT"})", payload); }

TokenClaims sampleClaims() {
  TokenClaims c;
  c.sub = "42";
  c.exp = kNow + 3600;
  c.iat = kNow - 10;
  c.subscribe = {"room:*", "user:42"};
  c.publish = c.subscribe;
  return c;
}

TokenError verifyError(std::string_view token, int64_t now = kNow) {
  return TokenVerifier({kSecret}).verify(token, now).error;
}

}  // namespace

TEST_CASE("a token made by issueToken verifies and yields its claims", "[token]") {
  TokenVerifier verifier({kSecret});
  const TokenClaims claims = sampleClaims();
  const TokenResult r = verifier.verify(issueToken(claims, kSecret), kNow);
  REQUIRE(r.error == TokenError::None);
  CHECK(r.claims.sub == "42");
  CHECK(r.claims.exp == kNow + 3600);
  CHECK(r.claims.iat == kNow - 10);
  CHECK(r.claims.nbf == 0);
  CHECK(r.claims.subscribe == std::vector<std::string>{"room:*", "user:42"});
  CHECK(r.claims.publish == std::vector<std::string>{"room:*", "user:42"});
}

TEST_CASE("issueToken emits pub only when it differs from ch", "[token]") {
  TokenClaims claims = sampleClaims();
  const std::string same = issueToken(claims, kSecret);
  const auto samePayload = base64UrlDecode(same.substr(same.find('.') + 1, same.rfind('.') - same.find('.') - 1));
  REQUIRE(samePayload);
  CHECK(*samePayload == R"({"sub":"42","exp":1800003600,"iat":1799999990,"ch":["room:*","user:42"]})");

  claims.publish = {"room:1"};
  claims.nbf = kNow - 5;
  const std::string differs = issueToken(claims, kSecret);
  const auto payload = base64UrlDecode(differs.substr(differs.find('.') + 1, differs.rfind('.') - differs.find('.') - 1));
  REQUIRE(payload);
  CHECK(*payload ==
        R"({"sub":"42","exp":1800003600,"nbf":1799999995,"iat":1799999990,"ch":["room:*","user:42"],"pub":["room:1"]})");
  const TokenResult r = TokenVerifier({kSecret}).verify(differs, kNow);
  REQUIRE(r.error == TokenError::None);
  CHECK(r.claims.publish == std::vector<std::string>{"room:1"});
  CHECK(r.claims.nbf == kNow - 5);
}

TEST_CASE("known-answer vectors computed independently (Python hmac, openssl dgst)", "[token]") {
  TokenVerifier verifier({kSecret});
  // {"alg":"HS256","typ":"JWT"} . {"sub":"42","exp":2000000000,"iat":1700000000,"ch":["room:*","user:42"]}
  const std::string kCompact =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
      "eyJzdWIiOiI0MiIsImV4cCI6MjAwMDAwMDAwMCwiaWF0IjoxNzAwMDAwMDAwLCJjaCI6WyJyb29tOioiLCJ1c2VyOjQyIl19."
      "8i6Wo5_Q2oXI-e50X7THFU07rEIH822Odt2BKPQghPQ";
  TokenClaims claims;
  claims.sub = "42";
  claims.exp = 2'000'000'000;
  claims.iat = 1'700'000'000;
  claims.subscribe = {"room:*", "user:42"};
  claims.publish = claims.subscribe;
  CHECK(issueToken(claims, kSecret) == kCompact);
  const TokenResult r1 = verifier.verify(kCompact, kNow);
  REQUIRE(r1.error == TokenError::None);
  CHECK(r1.claims.sub == "42");
  CHECK(r1.claims.publish == claims.subscribe);

  // Python json.dumps spacing, header without typ, an empty "pub":
  // {"alg": "HS256"} . {"sub": "alice", "exp": 2000000000, "nbf": 1600000000, "ch": ["room:1"], "pub": []}
  const std::string kSpaced =
      "eyJhbGciOiAiSFMyNTYifQ."
      "eyJzdWIiOiAiYWxpY2UiLCAiZXhwIjogMjAwMDAwMDAwMCwgIm5iZiI6IDE2MDAwMDAwMDAsICJjaCI6IFsicm9vbToxIl0sICJwdWIiOiBbXX0."
      "UbhzKfOo_sfHMPwGTj2OKsa9TCp63m-vI7B5wMtnFAI";
  const TokenResult r2 = verifier.verify(kSpaced, kNow);
  REQUIRE(r2.error == TokenError::None);
  CHECK(r2.claims.sub == "alice");
  CHECK(r2.claims.exp == 2'000'000'000);
  CHECK(r2.claims.nbf == 1'600'000'000);
  CHECK(r2.claims.subscribe == std::vector<std::string>{"room:1"});
  CHECK(r2.claims.publish.empty());
}

TEST_CASE("tampered tokens fail with BadSignature", "[token]") {
  const std::string good = issueToken(sampleClaims(), kSecret);
  const size_t dot1 = good.find('.'), dot2 = good.rfind('.');

  SECTION("payload swapped for another validly encoded payload") {
    TokenClaims evil = sampleClaims();
    evil.subscribe = {"*"};
    const std::string other = issueToken(evil, kSecret);
    const std::string otherPayload = other.substr(other.find('.') + 1, other.rfind('.') - other.find('.') - 1);
    const std::string forged = good.substr(0, dot1 + 1) + otherPayload + good.substr(dot2);
    CHECK(verifyError(forged) == TokenError::BadSignature);
  }
  SECTION("one signature character changed") {
    std::string forged = good;
    forged[dot2 + 1] = forged[dot2 + 1] == 'A' ? 'B' : 'A';
    CHECK(verifyError(forged) == TokenError::BadSignature);
  }
  SECTION("signature of the wrong length") {
    CHECK(verifyError(good.substr(0, dot2 + 1) + base64UrlEncode("short")) == TokenError::BadSignature);
    CHECK(verifyError(good.substr(0, dot2 + 1)) == TokenError::BadSignature);
  }
  SECTION("signed with an unknown secret") {
    CHECK(verifyError(issueToken(sampleClaims(), kOtherSecret)) == TokenError::BadSignature);
  }
}

TEST_CASE("expiry and not-before honour the leeway", "[token]") {
  TokenVerifier verifier({kSecret}, 30);
  TokenClaims c = sampleClaims();
  c.exp = kNow;
  const std::string expiresNow = issueToken(c, kSecret);
  CHECK(verifier.verify(expiresNow, kNow).error == TokenError::None);        // within leeway
  CHECK(verifier.verify(expiresNow, kNow + 29).error == TokenError::None);
  CHECK(verifier.verify(expiresNow, kNow + 30).error == TokenError::Expired);  // exp + leeway <= now
  CHECK(verifier.verify(expiresNow, kNow + 100000).error == TokenError::Expired);
  CHECK(TokenVerifier({kSecret}, 0).verify(expiresNow, kNow).error == TokenError::Expired);
  CHECK(TokenVerifier({kSecret}, 0).verify(expiresNow, kNow - 1).error == TokenError::None);

  c = sampleClaims();
  c.nbf = kNow + 100;
  const std::string future = issueToken(c, kSecret);
  CHECK(verifier.verify(future, kNow).error == TokenError::NotYetValid);
  CHECK(verifier.verify(future, kNow + 69).error == TokenError::NotYetValid);  // nbf - leeway > now
  CHECK(verifier.verify(future, kNow + 70).error == TokenError::None);

  // Extreme values saturate instead of overflowing.
  CHECK(verifyError(signPayload(R"({"sub":"1","exp":9223372036854775807})")) == TokenError::None);
  CHECK(verifyError(signPayload(R"({"sub":"1","exp":-9223372036854775808})")) == TokenError::Expired);
  CHECK(verifyError(signPayload(R"({"sub":"1","exp":9223372036854775807,"nbf":-9223372036854775808})")) ==
        TokenError::None);
}

TEST_CASE("only HS256 is accepted", "[token]") {
  const std::string payload = R"({"sub":"42","exp":1900000000})";
  CHECK(verifyError(sign(R"({"alg":"HS256","typ":"JWT"})", payload)) == TokenError::None);
  CHECK(verifyError(sign(R"({"alg":"HS256"})", payload)) == TokenError::None);
  CHECK(verifyError(sign(R"({"alg":"none","typ":"JWT"})", payload)) == TokenError::BadAlgorithm);
  CHECK(verifyError(sign(R"({"alg":"HS384","typ":"JWT"})", payload)) == TokenError::BadAlgorithm);
  CHECK(verifyError(sign(R"({"alg":"RS256"})", payload)) == TokenError::BadAlgorithm);
  CHECK(verifyError(sign(R"({"alg":"hs256"})", payload)) == TokenError::BadAlgorithm);
  CHECK(verifyError(sign(R"({"typ":"JWT"})", payload)) == TokenError::BadAlgorithm);
  CHECK(verifyError(sign(R"({"alg":256})", payload)) == TokenError::BadAlgorithm);
  CHECK(verifyError(sign(R"({"alg":null})", payload)) == TokenError::BadAlgorithm);
  // The classic alg:none attack: unsigned token with an empty signature.
  const std::string unsigned_ = base64UrlEncode(R"({"alg":"none","typ":"JWT"})") + "." + base64UrlEncode(payload) + ".";
  CHECK(verifyError(unsigned_) == TokenError::BadAlgorithm);
  // typ, when present, must be "JWT"; duplicate header keys are refused.
  CHECK(verifyError(sign(R"({"alg":"HS256","typ":"JWE"})", payload)) == TokenError::Malformed);
  CHECK(verifyError(sign(R"({"alg":"HS256","typ":1})", payload)) == TokenError::Malformed);
  CHECK(verifyError(sign(R"({"alg":"HS256","alg":"none"})", payload)) == TokenError::Malformed);
  CHECK(verifyError(sign(R"(["HS256"])", payload)) == TokenError::Malformed);
  CHECK(verifyError(sign(R"({"alg":"HS256")", payload)) == TokenError::Malformed);
}

TEST_CASE("missing and ill-typed claims", "[token]") {
  CHECK(verifyError(signPayload(R"({"exp":1900000000})")) == TokenError::MissingClaim);
  CHECK(verifyError(signPayload(R"({"sub":"","exp":1900000000})")) == TokenError::BadSubject);
  CHECK(verifyError(signPayload(R"({"sub":"42"})")) == TokenError::MissingClaim);
  CHECK(verifyError(signPayload(R"({})")) == TokenError::MissingClaim);

  CHECK(verifyError(signPayload(R"({"sub":42,"exp":1900000000})")) == TokenError::Malformed);
  CHECK(verifyError(signPayload(R"({"sub":"42","exp":"1900000000"})")) == TokenError::Malformed);
  CHECK(verifyError(signPayload(R"({"sub":"42","exp":1900000000.5})")) == TokenError::Malformed);
  CHECK(verifyError(signPayload(R"({"sub":"42","exp":1.9e9})")) == TokenError::Malformed);
  CHECK(verifyError(signPayload(R"({"sub":"42","exp":18446744073709551615})")) == TokenError::Malformed);
  CHECK(verifyError(signPayload(R"({"sub":"42","exp":null})")) == TokenError::Malformed);
  CHECK(verifyError(signPayload(R"({"sub":"42","exp":1900000000,"nbf":"0"})")) == TokenError::Malformed);
  CHECK(verifyError(signPayload(R"({"sub":"42","exp":1900000000,"iat":true})")) == TokenError::Malformed);
  CHECK(verifyError(signPayload(R"({"sub":"42","exp":1900000000,"ch":"room:1"})")) == TokenError::Malformed);
  CHECK(verifyError(signPayload(R"({"sub":"42","exp":1900000000,"ch":["room:1",2]})")) == TokenError::Malformed);
  CHECK(verifyError(signPayload(R"({"sub":"42","exp":1900000000,"pub":{"a":1}})")) == TokenError::Malformed);
  CHECK(verifyError(signPayload(R"({"sub":"42","sub":"43","exp":1900000000})")) == TokenError::Malformed);
  CHECK(verifyError(signPayload(R"(["sub","42"])")) == TokenError::Malformed);
  CHECK(verifyError(signPayload(R"({"sub":"42","exp":1900000000} x)")) == TokenError::Malformed);
  CHECK(verifyError(signPayload("{\"sub\":\"\xff\",\"exp\":1900000000}")) == TokenError::Malformed);  // bad UTF-8

  // sub length limit: 128 bytes pass, 129 do not.
  CHECK(verifyError(signPayload(R"({"sub":")" + std::string(128, 'u') + R"(","exp":1900000000})")) == TokenError::None);
  CHECK(verifyError(signPayload(R"({"sub":")" + std::string(129, 'u') + R"(","exp":1900000000})")) == TokenError::BadSubject);

  // Unknown claims are ignored; escaped keys are read unescaped; ch absent means no grants.
  const TokenResult r = TokenVerifier({kSecret}).verify(
      signPayload(R"({"s\u0075b":"7","exp":1900000000,"aud":"x","extra":{"nested":[1,2]}})"), kNow);
  REQUIRE(r.error == TokenError::None);
  CHECK(r.claims.sub == "7");
  CHECK(r.claims.subscribe.empty());
  CHECK(r.claims.publish.empty());
}

TEST_CASE("several secrets allow rotation", "[token]") {
  TokenVerifier verifier({kSecret, kOtherSecret});
  const TokenResult a = verifier.verify(issueToken(sampleClaims(), kSecret), kNow);
  const TokenResult b = verifier.verify(issueToken(sampleClaims(), kOtherSecret), kNow);
  CHECK(a.error == TokenError::None);
  CHECK(b.error == TokenError::None);
  CHECK(b.claims.sub == "42");
  CHECK(TokenVerifier({kSecret}).verify(issueToken(sampleClaims(), kOtherSecret), kNow).error ==
        TokenError::BadSignature);
}

TEST_CASE("the verifier refuses weak configuration", "[token]") {
  CHECK_THROWS_AS(TokenVerifier({std::string(31, 'k')}), std::invalid_argument);
  CHECK_THROWS_AS(TokenVerifier({kSecret, "short"}), std::invalid_argument);
  CHECK_THROWS_AS(TokenVerifier({}), std::invalid_argument);
  CHECK_THROWS_AS(TokenVerifier({kSecret}, -1), std::invalid_argument);
  CHECK_THROWS_AS(TokenVerifier({kSecret}, 30, -1), std::invalid_argument);
  CHECK_NOTHROW(TokenVerifier({std::string(32, 'k')}));
}

TEST_CASE("garbage and huge inputs are Malformed", "[token]") {
  CHECK(verifyError("") == TokenError::Malformed);
  CHECK(verifyError(".") == TokenError::Malformed);
  CHECK(verifyError("..") == TokenError::Malformed);
  CHECK(verifyError("abc") == TokenError::Malformed);
  CHECK(verifyError("a.b") == TokenError::Malformed);
  CHECK(verifyError("a.b.c.d") == TokenError::Malformed);
  CHECK(verifyError("not a token at all") == TokenError::Malformed);
  CHECK(verifyError(std::string("\0\0\0", 3)) == TokenError::Malformed);

  const std::string good = issueToken(sampleClaims(), kSecret);
  CHECK(verifyError(good + ".") == TokenError::Malformed);
  CHECK(verifyError(good + "=") == TokenError::Malformed);   // padding is not base64url
  CHECK(verifyError(" " + good) == TokenError::Malformed);
  std::string badChar = good;
  badChar[good.find('.') + 3] = '+';
  CHECK(verifyError(badChar) == TokenError::Malformed);
  // A valid header with a payload that is not JSON, correctly signed: Malformed, not accepted.
  CHECK(verifyError(signPayload("not json")) == TokenError::Malformed);
  CHECK(verifyError(signPayload("")) == TokenError::Malformed);

  // Tokens above kMaxTokenBytes (32 KiB) are refused before any decoding, even when correctly signed.
  const std::string bigSub = std::string(100, 'x');
  std::string bigPayload = R"({"sub":"42","exp":1900000000,"ch":[)";
  for (int i = 0; i < 400; ++i) bigPayload += (i ? ",\"" : "\"") + bigSub + "\"";
  bigPayload += "]}";
  const std::string big = signPayload(bigPayload);
  REQUIRE(big.size() > kMaxTokenBytes);
  CHECK(verifyError(big) == TokenError::Malformed);
  CHECK(verifyError(std::string(1 << 20, 'A')) == TokenError::Malformed);
  CHECK(verifyError(std::string(kMaxTokenBytes + 1, '.')) == TokenError::Malformed);
}

TEST_CASE("toString names every error", "[token]") {
  CHECK(std::string(toString(TokenError::None)) == "none");
  CHECK(std::string(toString(TokenError::Malformed)) == "malformed token");
  CHECK(std::string(toString(TokenError::BadAlgorithm)) == "unsupported algorithm");
  CHECK(std::string(toString(TokenError::BadSignature)) == "bad signature");
  CHECK(std::string(toString(TokenError::Expired)) == "token expired");
  CHECK(std::string(toString(TokenError::NotYetValid)) == "token not yet valid");
  CHECK(std::string(toString(TokenError::MissingClaim)) == "missing claim");
  CHECK(std::string(toString(TokenError::BadGrant)).find("ch/pub pattern") != std::string::npos);
  CHECK(std::string(toString(TokenError::TooLong)).find("max_token_lifetime") != std::string::npos);
}

TEST_CASE("matchChannelPattern: exact names and trailing-star prefixes", "[token]") {
  CHECK(matchChannelPattern("room:1", "room:1"));
  CHECK_FALSE(matchChannelPattern("room:1", "room:10"));
  CHECK_FALSE(matchChannelPattern("room:10", "room:1"));
  CHECK(matchChannelPattern("room:*", "room:1"));
  CHECK(matchChannelPattern("room:*", "room:abc:def"));
  CHECK_FALSE(matchChannelPattern("room:*", "roo"));
  CHECK_FALSE(matchChannelPattern("room:*", "pub:1"));
  CHECK(matchChannelPattern("room:1*", "room:10"));
  CHECK(matchChannelPattern("*", "anything"));
  CHECK_FALSE(matchChannelPattern("", "room:1"));
  CHECK_FALSE(matchChannelPattern("room:*:x", "room:1:x"));  // '*' only counts at the end
  CHECK(matchChannelPattern("room:*:x", "room:*:x"));
}

TEST_CASE("grant patterns must be channel names or prefixes ending in one '*'", "[token]") {
  auto withCh = [](std::string_view patterns) {
    return verifyError(signPayload(R"({"sub":"42","exp":1800003600,"ch":)" + std::string(patterns) + "}"));
  };
  auto withPub = [](std::string_view patterns) {
    return verifyError(signPayload(R"({"sub":"42","exp":1800003600,"ch":[],"pub":)" + std::string(patterns) + "}"));
  };
  CHECK(withCh(R"(["room:1","room:*","*","user:42","dm:a:b","a_b.c-d:E9"])") == TokenError::None);
  CHECK(withCh(R"([])") == TokenError::None);
  CHECK(withCh(R"(["room:)" + std::string(123, 'x') + R"("])") == TokenError::None);      // 128 bytes
  CHECK(withCh(R"(["room:)" + std::string(122, 'x') + R"(*"])") == TokenError::None);     // 127 + '*'
  CHECK(withPub(R"(["room:*"])") == TokenError::None);

  // A newline (or anything outside [A-Za-z0-9_.:-]) could make one user's interned grant set equal
  // another's; such tokens are refused.
  const char* bad[] = {
      R"(["room:a\nroom:b"])", R"(["room:a\n"])", R"(["room:\u0000"])", R"([""])", R"(["room 1"])",
      R"(["room:*:x"])",       R"(["**"])",        R"(["room:**"])",     R"(["*room"])", R"(["room/1"])",
      R"(["r\u00e9sum\u00e9"])", R"(["room:1","room:\t"])",
  };
  for (const char* patterns : bad) {
    INFO(patterns);
    CHECK(withCh(patterns) == TokenError::BadGrant);
    CHECK(withPub(patterns) == TokenError::BadGrant);
  }
  CHECK(withCh(R"(["room:)" + std::string(124, 'x') + R"("])") == TokenError::BadGrant);   // 129 bytes
  CHECK(withCh(R"(["room:)" + std::string(123, 'x') + R"(*"])") == TokenError::BadGrant);  // 128 + '*'
  CHECK(std::string(toString(TokenError::BadGrant)).find("pattern") != std::string::npos);

  CHECK(isValidGrantPattern("room:*"));
  CHECK(isValidGrantPattern("*"));
  CHECK_FALSE(isValidGrantPattern(""));
  CHECK_FALSE(isValidGrantPattern("room:a\nroom:b"));
  CHECK_FALSE(isValidGrantPattern("a*b"));
}

TEST_CASE("user ids: 1..128 bytes without control characters", "[token]") {
  auto withSub = [](std::string_view subJson) {
    return verifyError(signPayload(R"({"sub":)" + std::string(subJson) + R"(,"exp":1800003600})"));
  };
  CHECK(withSub(R"("42")") == TokenError::None);
  CHECK(withSub(R"("alice@example.com")") == TokenError::None);
  CHECK(withSub(R"("J\u00f6rg M\u00fcller")") == TokenError::None);  // non-ASCII and spaces are fine
  CHECK(withSub("\"" + std::string(128, 'u') + "\"") == TokenError::None);
  // A NUL or another control character in the id: the user could not be kicked by name.
  const char* bad[] = {
      R"("a\u0000b")", R"("\u0000")", R"("42\n")", R"("a\tb")", R"("\r")", R"("x\u001fy")", R"("x\u007fy")",
      R"("")",
  };
  for (const char* sub : bad) {
    INFO(sub);
    CHECK(withSub(sub) == TokenError::BadSubject);
  }
  CHECK(withSub("\"" + std::string(129, 'u') + "\"") == TokenError::BadSubject);
  CHECK(withSub(R"(42)") == TokenError::Malformed);  // not a string
  CHECK(verifyError(signPayload(R"({"exp":1800003600})")) == TokenError::MissingClaim);
  CHECK(std::string(toString(TokenError::BadSubject)).find("sub") != std::string::npos);

  CHECK(isValidUserId("42"));
  CHECK_FALSE(isValidUserId(""));
  CHECK_FALSE(isValidUserId(std::string_view("4\0002", 3)));
  CHECK_FALSE(isValidUserId(std::string(kMaxSubjectBytes + 1, 'u')));
}

TEST_CASE("a maximum lifetime refuses tokens whose exp lies too far ahead, with the leeway", "[token]") {
  constexpr int64_t kWeek = 7 * 86400;
  const TokenVerifier verifier({kSecret}, 30, kWeek);
  auto expiringAt = [](int64_t exp) {
    TokenClaims c = sampleClaims();
    c.exp = exp;
    return issueToken(c, kSecret);
  };
  CHECK(verifier.verify(expiringAt(kNow + 3600), kNow).error == TokenError::None);
  CHECK(verifier.verify(expiringAt(kNow + kWeek), kNow).error == TokenError::None);
  CHECK(verifier.verify(expiringAt(kNow + kWeek + 30), kNow).error == TokenError::None);  // the issuer's clock may be ahead
  CHECK(verifier.verify(expiringAt(kNow + kWeek + 31), kNow).error == TokenError::TooLong);
  CHECK(verifier.verify(expiringAt(kNow + 8 * 86400), kNow).error == TokenError::TooLong);
  CHECK(verifier.verify(expiringAt(int64_t{1} << 62), kNow).error == TokenError::TooLong);
  CHECK(verifier.verify(signPayload(R"({"sub":"1","exp":9223372036854775807})"), kNow).error == TokenError::TooLong);
  // The same token is fine once its exp comes within reach; expiry is checked first.
  CHECK(verifier.verify(expiringAt(kNow + 8 * 86400), kNow + 86400).error == TokenError::None);
  CHECK(verifier.verify(expiringAt(kNow - 100), kNow).error == TokenError::Expired);
  // Extreme clocks saturate instead of overflowing.
  CHECK(verifier.verify(expiringAt(kNow + 3600), std::numeric_limits<int64_t>::max()).error == TokenError::Expired);
  CHECK(TokenVerifier({kSecret}, 30, std::numeric_limits<int64_t>::max()).verify(expiringAt(int64_t{1} << 62), kNow).error ==
        TokenError::None);
  // Without a maximum (0) any exp is accepted, as before.
  CHECK(TokenVerifier({kSecret}, 30, 0).verify(expiringAt(int64_t{1} << 62), kNow).error == TokenError::None);
}
