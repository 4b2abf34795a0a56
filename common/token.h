// HS256 JWT verification and issuing (docs/protocol.md section 3). Pure: OpenSSL for HMAC, simdjson for
// the header and claims; no I/O and no clock (callers pass the time in).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace webim {

struct TokenClaims {
  std::string sub;
  int64_t exp = 0, nbf = 0, iat = 0;  // nbf/iat are 0 when the token does not carry them
  std::vector<std::string> subscribe;  // "ch" claim: patterns (exact name or prefix ending in '*')
  std::vector<std::string> publish;    // "pub" claim; when the claim is absent it equals `subscribe`
  std::string jti;                     // optional unique id (the HTTP fallback's session ids carry one)
  // "presence" claim: patterns of the user ids whose presence the `online` query may ask about
  // (exact id or prefix ending in '*'); absent = none (docs/protocol.md "Presence").
  std::vector<std::string> presence;
  // "watch" claim: user ids whose presence changes this connection is told (the watchlist),
  // at most kMaxWatchedUsers valid user ids; absent = none.
  std::vector<std::string> watch;
};

// Error classes, checked in this order:
//   Malformed     token larger than kMaxTokenBytes, not exactly three base64url parts, header or
//                 payload not a JSON object, duplicate header/claim keys, claims of the wrong type
//                 (sub not a string, exp/nbf/iat not 64-bit integers, ch/pub/presence not arrays of strings),
//                 typ present but not "JWT". Header and claims are parsed with simdjson's DOM, which
//                 also refuses integers beyond 64 bits anywhere.
//   BadAlgorithm  header "alg" missing, not a string, or anything but "HS256".
//   BadSignature  the signature matches none of the configured secrets.
//   MissingClaim  "sub" or "exp" absent.
//   BadSubject    "sub" is not a valid user id (isValidUserId).
//   BadGrant      a "ch", "pub" or "presence" pattern that is not a valid grant pattern (isValidGrantPattern).
//   BadWatch      a "watch" claim of more than kMaxWatchedUsers ids, or one that is not a valid user id.
//   Expired       exp + leeway <= now.
//   NotYetValid   nbf - leeway > now.
//   TooLong       exp - leeway > now + maxLifetime (the token would stay valid longer than
//                 allowed; only when the verifier has a maximum lifetime).
// The payload is only parsed after the signature has been verified.
enum class TokenError {
  None, Malformed, BadAlgorithm, BadSignature, Expired, NotYetValid, MissingClaim, BadSubject, BadGrant, TooLong,
  BadWatch
};
const char* toString(TokenError e) noexcept;

struct TokenResult {
  TokenError error = TokenError::None;
  TokenClaims claims;  // filled only when error == None
};

// Bounds the work spent on any input; room for a `watch` claim of kMaxWatchedUsers ids (~10 KB
// with 7-digit ids, ~14 KB in base64url).
inline constexpr size_t kMaxTokenBytes = 32 * 1024;
inline constexpr size_t kMaxWatchedUsers = 1000;  // the `watch` claim's ids (docs/protocol.md "Watchlist")
inline constexpr size_t kMinSecretBytes = 32;        // docs/protocol.md section 3
inline constexpr size_t kMaxSubjectBytes = 128;

// A user id ("sub"): 1..kMaxSubjectBytes bytes (UTF-8, as JSON strings are), no control character
// (< 0x20, 0x7f): an id with a NUL or a newline could not be named in a kick or a log line.
bool isValidUserId(std::string_view sub) noexcept;

class TokenVerifier {
 public:
  // Several secrets may be active at once (rotation); each must be >= 32 bytes, and at least one
  // must be given; a negative leeway or maximum lifetime is rejected too (all throw
  // std::invalid_argument). maxLifetimeSeconds: a token whose exp lies further ahead than this (plus
  // the leeway, for the issuer's clock) is refused as TooLong; 0 = no maximum.
  explicit TokenVerifier(std::vector<std::string> secrets, int64_t leewaySeconds = 30, int64_t maxLifetimeSeconds = 0);

  // Thread-safe (const; the JSON parser it uses is thread_local).
  TokenResult verify(std::string_view token, int64_t nowSeconds) const;

 private:
  std::vector<std::string> secrets_;
  int64_t leewaySeconds_;
  int64_t maxLifetimeSeconds_;
};

// For tools and tests: header {"alg":"HS256","typ":"JWT"}, claims in the order sub, exp, nbf, iat,
// ch, pub, presence; nbf and iat only when non-zero, ch always, pub only if it differs from ch,
// presence only when not empty.
std::string issueToken(const TokenClaims& claims, std::string_view secret);

// A pattern is an exact channel name, or a prefix followed by a final '*' ("room:*"; "*" matches
// every channel). A '*' anywhere else is literal, so it never matches a valid channel name.
bool matchChannelPattern(std::string_view pattern, std::string_view channel) noexcept;

// What a token's "ch" and "pub" patterns must be: a channel name ([A-Za-z0-9_.:-]{1,128}), or a
// prefix of one followed by a single '*' ([A-Za-z0-9_.:-]{0,127}\*: 128 bytes at most, like a name).
// So no pattern holds a newline, a NUL or anything else a grant set's key could trip on.
bool isValidGrantPattern(std::string_view pattern) noexcept;

}  // namespace webim
