// libFuzzer target: TokenVerifier::verify (HS256 JWTs, docs/protocol.md section 3), issueToken and the
// base64url codec under them.
//
// The input is used twice. As a token: verify() with fixed secrets must not crash, must be
// deterministic, and may accept only claims that satisfy its contract (a valid user id and grant
// patterns, not expired, already valid). As a source of claims: issueToken() on input-derived claims
// must verify to exactly the error class token.h promises (None, BadSubject, Malformed, BadGrant, Expired,
// NotYetValid) and, when accepted, to the same claims; changing any one character of an issued token
// must make it fail, and a verifier without the signing secret must answer BadSignature.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "common/base64.h"
#include "common/token.h"
#include "common/utf8.h"
#include "tests/fuzz/fuzz_support.h"

using namespace webim;

namespace {

// Fixed secrets (>= 32 bytes). The seed tokens in corpus/fuzz_token were signed with kSecret
// (tests/fuzz/make_corpus.py), so mutations of them get past the signature check.
constexpr std::string_view kSecret = "webim-fuzz-secret-0123456789abcdef";
constexpr std::string_view kRotatedOut = "webim-fuzz-older-secret-0123456789";
constexpr std::string_view kUnrelated = "webim-fuzz-unrelated-0123456789abc";
constexpr int64_t kLeeway = 30;
constexpr int64_t kNow = 1700000000;  // fixed: runs must be reproducible

const TokenVerifier& verifier() {
  static const TokenVerifier v({std::string(kRotatedOut), std::string(kSecret)}, kLeeway);
  return v;
}

const TokenVerifier& otherVerifier() {
  static const TokenVerifier v({std::string(kUnrelated)}, kLeeway);
  return v;
}

int64_t saturatingAdd(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  return r;
}

bool sameClaims(const TokenClaims& a, const TokenClaims& b) {
  return a.sub == b.sub && a.exp == b.exp && a.nbf == b.nbf && a.iat == b.iat && a.subscribe == b.subscribe &&
         a.publish == b.publish;
}

bool allValidPatterns(const std::vector<std::string>& patterns);

void checkAcceptedClaims(const TokenClaims& c, int64_t now) {
  FUZZ_CHECK(!c.sub.empty() && c.sub.size() <= kMaxSubjectBytes);
  for (char ch : c.sub) FUZZ_CHECK(static_cast<unsigned char>(ch) >= 0x20 && ch != 0x7f);
  FUZZ_CHECK(allValidPatterns(c.subscribe) && allValidPatterns(c.publish));
  FUZZ_CHECK(saturatingAdd(c.exp, kLeeway) > now);
  FUZZ_CHECK(saturatingAdd(c.nbf, -kLeeway) <= now);
}

void checkBase64(std::string_view input) {
  const std::string encoded = base64UrlEncode(input);
  FUZZ_CHECK(encoded.size() == (input.size() * 4 + 2) / 3);
  const auto decoded = base64UrlDecode(encoded);
  FUZZ_CHECK(decoded.has_value() && *decoded == input);
  // Canonical: whatever decodes re-encodes to exactly the same text.
  if (const auto raw = base64UrlDecode(input)) FUZZ_CHECK(base64UrlEncode(*raw) == input);
  FUZZ_CHECK(base64Encode(input).size() == (input.size() + 2) / 3 * 4);
}

int64_t derivedTime(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange<int>(0, 3)) {
    case 0: return 0;
    case 1: return kNow + in.ConsumeIntegralInRange<int64_t>(-3 * kLeeway, 3 * kLeeway);  // around the edges
    case 2: return in.ConsumeIntegral<int64_t>();                                           // extremes
    default: return kNow + in.ConsumeIntegralInRange<int64_t>(-86400, 86400);
  }
}

std::vector<std::string> derivedPatterns(FuzzedDataProvider& in) {
  std::vector<std::string> out(in.ConsumeIntegralInRange<size_t>(0, 4));
  for (auto& p : out) p = in.ConsumeRandomLengthString(40);
  return out;
}

bool allValidPatterns(const std::vector<std::string>& patterns) {
  for (const auto& p : patterns) {
    if (!isValidGrantPattern(p)) return false;
  }
  return true;
}

void checkRoundTrip(std::string_view input) {
  FuzzedDataProvider in(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  TokenClaims claims;
  claims.sub = in.ConsumeRandomLengthString(kMaxSubjectBytes + 16);
  claims.exp = derivedTime(in);
  claims.nbf = derivedTime(in);
  claims.iat = derivedTime(in);
  claims.subscribe = derivedPatterns(in);
  claims.publish = in.ConsumeBool() ? claims.subscribe : derivedPatterns(in);

  const std::string token = issueToken(claims, kSecret);
  const TokenResult result = verifier().verify(token, kNow);

  // JsonWriter replaces invalid UTF-8 with U+FFFD, so exact expectations hold for valid UTF-8 only.
  bool allUtf8 = isValidUtf8(claims.sub);
  for (const auto& p : claims.subscribe) allUtf8 = allUtf8 && isValidUtf8(p);
  for (const auto& p : claims.publish) allUtf8 = allUtf8 && isValidUtf8(p);
  if (allUtf8) {
    TokenError expected = TokenError::None;
    if (token.size() > kMaxTokenBytes) {
      expected = TokenError::Malformed;
    } else if (!isValidUserId(claims.sub)) {
      expected = TokenError::BadSubject;
    } else if (!allValidPatterns(claims.subscribe) || !allValidPatterns(claims.publish)) {
      expected = TokenError::BadGrant;
    } else if (saturatingAdd(claims.exp, kLeeway) <= kNow) {
      expected = TokenError::Expired;
    } else if (saturatingAdd(claims.nbf, -kLeeway) > kNow) {
      expected = TokenError::NotYetValid;
    }
    FUZZ_CHECK(result.error == expected);
    if (expected == TokenError::None) FUZZ_CHECK(sameClaims(result.claims, claims));
  } else if (result.error == TokenError::None) {
    checkAcceptedClaims(result.claims, kNow);
  }
  if (result.error != TokenError::None) FUZZ_CHECK(result.claims.sub.empty() && result.claims.subscribe.empty());

  if (token.size() <= kMaxTokenBytes) {
    // Signed with a secret this verifier does not have.
    FUZZ_CHECK(otherVerifier().verify(token, kNow).error == TokenError::BadSignature);
    // Any single-character change breaks the token (base64url decoding is canonical, so a different
    // text is always different bytes: a different signing input or a different signature).
    if (result.error == TokenError::None && !token.empty()) {
      const size_t at = static_cast<size_t>(fuzz::hashBytes(input) % token.size());
      std::string tampered = token;
      const char* const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=";
      const char replacement = alphabet[(fuzz::hashBytes(token) >> 8) % 66];
      tampered[at] = replacement == tampered[at] ? (replacement == 'A' ? 'B' : 'A') : replacement;
      FUZZ_CHECK(verifier().verify(tampered, kNow).error != TokenError::None);
    }
  }

  // Channel patterns: a pattern matches itself, "*" matches everything, "prefix*" matches its prefix.
  for (const auto& p : claims.subscribe) {
    FUZZ_CHECK(matchChannelPattern(p, p));
    FUZZ_CHECK(matchChannelPattern("*", p));
    if (!p.empty() && p.back() == '*') FUZZ_CHECK(matchChannelPattern(p, std::string_view(p).substr(0, p.size() - 1)));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = fuzz::asView(data, size);

  const TokenResult result = verifier().verify(input, kNow);
  if (result.error == TokenError::None) checkAcceptedClaims(result.claims, kNow);
  const TokenResult again = verifier().verify(input, kNow);
  FUZZ_CHECK(again.error == result.error && sameClaims(again.claims, result.claims));
  FUZZ_CHECK(toString(result.error) != nullptr);

  checkBase64(input);
  checkRoundTrip(input);
  return 0;
}
