#include "common/token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <simdjson.h>

#include <array>
#include <limits>
#include <stdexcept>

#include "common/base64.h"
#include "common/channel_rules.h"
#include "common/json_writer.h"

namespace webim {

namespace {

constexpr size_t kSha256Bytes = 32;
using Digest = std::array<unsigned char, kSha256Bytes>;

Digest hmacSha256(std::string_view key, std::string_view data) {
  Digest out{};
  unsigned int len = 0;
  // Inputs are bounded (secrets are configuration, data <= kMaxTokenBytes), so int casts are safe.
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len);
  return out;
}

// One parser per thread: verify() stays const and thread-safe while the parser's buffers are reused
// across calls (tokens are at most kMaxTokenBytes, so the retained capacity is small).
simdjson::dom::parser& threadParser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

// Saturating arithmetic so extreme exp/nbf values cannot overflow the leeway comparison.
int64_t saturatingAdd(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  return r;
}

// Parses `json` as one JSON object. The parser copies the bytes into its own padded buffer.
bool parseObject(const std::string& json, simdjson::dom::object& out) {
  simdjson::dom::element root;
  if (threadParser().parse(json.data(), json.size(), true).get(root) != simdjson::SUCCESS) return false;
  return root.get_object().get(out) == simdjson::SUCCESS;
}

bool readPatterns(simdjson::dom::element value, std::vector<std::string>& out) {
  simdjson::dom::array arr;
  if (value.get_array().get(arr) != simdjson::SUCCESS) return false;
  for (simdjson::dom::element item : arr) {
    std::string_view s;
    if (item.get_string().get(s) != simdjson::SUCCESS) return false;
    out.emplace_back(s);
  }
  return true;
}

// Header: alg must be exactly "HS256"; typ, when present, must be "JWT". Other members are ignored.
TokenError checkHeader(const std::string& headerJson) {
  simdjson::dom::object obj;
  if (!parseObject(headerJson, obj)) return TokenError::Malformed;
  bool seenAlg = false, seenTyp = false, algOk = false;
  for (auto field : obj) {
    if (field.key == "alg") {
      if (seenAlg) return TokenError::Malformed;
      seenAlg = true;
      std::string_view alg;
      algOk = field.value.get_string().get(alg) == simdjson::SUCCESS && alg == "HS256";
    } else if (field.key == "typ") {
      if (seenTyp) return TokenError::Malformed;
      seenTyp = true;
      std::string_view typ;
      if (field.value.get_string().get(typ) != simdjson::SUCCESS || typ != "JWT") return TokenError::Malformed;
    }
  }
  return algOk ? TokenError::None : TokenError::BadAlgorithm;
}

TokenError readClaims(const std::string& payloadJson, TokenClaims& claims) {
  simdjson::dom::object obj;
  if (!parseObject(payloadJson, obj)) return TokenError::Malformed;
  bool seenSub = false, seenExp = false, seenNbf = false, seenIat = false, seenCh = false, seenPub = false, seenPresence = false,
       seenWatch = false;
  auto readInt = [](simdjson::dom::element v, int64_t& out) {
    return v.type() == simdjson::dom::element_type::INT64 && v.get_int64().get(out) == simdjson::SUCCESS;
  };
  for (auto field : obj) {
    const std::string_view key = field.key;
    if (key == "sub") {
      std::string_view sub;
      if (seenSub || field.value.get_string().get(sub) != simdjson::SUCCESS) return TokenError::Malformed;
      seenSub = true;
      claims.sub.assign(sub);
    } else if (key == "exp") {
      if (seenExp || !readInt(field.value, claims.exp)) return TokenError::Malformed;
      seenExp = true;
    } else if (key == "nbf") {
      if (seenNbf || !readInt(field.value, claims.nbf)) return TokenError::Malformed;
      seenNbf = true;
    } else if (key == "iat") {
      if (seenIat || !readInt(field.value, claims.iat)) return TokenError::Malformed;
      seenIat = true;
    } else if (key == "jti") {
      std::string_view jti;
      if (!claims.jti.empty() || field.value.get_string().get(jti) != simdjson::SUCCESS || jti.empty() ||
          jti.size() > kMaxSubjectBytes) {
        return TokenError::Malformed;
      }
      claims.jti.assign(jti);
    } else if (key == "ch") {
      if (seenCh || !readPatterns(field.value, claims.subscribe)) return TokenError::Malformed;
      seenCh = true;
    } else if (key == "pub") {
      if (seenPub || !readPatterns(field.value, claims.publish)) return TokenError::Malformed;
      seenPub = true;
    } else if (key == "watch") {
      if (seenWatch || !readPatterns(field.value, claims.watch)) return TokenError::Malformed;
      seenWatch = true;
    } else if (key == "presence") {
      if (seenPresence || !readPatterns(field.value, claims.presence)) return TokenError::Malformed;
      seenPresence = true;
    }
  }
  if (!seenSub || !seenExp) return TokenError::MissingClaim;
  if (!isValidUserId(claims.sub)) return TokenError::BadSubject;
  for (const auto* patterns : {&claims.subscribe, &claims.publish, &claims.presence}) {
    for (const std::string& p : *patterns) {
      if (!isValidGrantPattern(p)) return TokenError::BadGrant;
    }
  }
  if (claims.watch.size() > kMaxWatchedUsers) return TokenError::BadWatch;
  for (const std::string& user : claims.watch) {
    // Watched through their inbox's shard: "user:<id>" must be a valid channel name.
    if (!isValidUserId(user) || !isValidChannelName(std::string("user:").append(user))) return TokenError::BadWatch;
  }
  if (!seenPub) claims.publish = claims.subscribe;
  return TokenError::None;
}

}  // namespace

const char* toString(TokenError e) noexcept {
  switch (e) {
    case TokenError::None: return "none";
    case TokenError::Malformed: return "malformed token";
    case TokenError::BadAlgorithm: return "unsupported algorithm";
    case TokenError::BadSignature: return "bad signature";
    case TokenError::Expired: return "token expired";
    case TokenError::NotYetValid: return "token not yet valid";
    case TokenError::MissingClaim: return "missing claim";
    case TokenError::BadSubject: return "invalid sub (user id): empty, over 128 bytes or a control character";
    case TokenError::TooLong: return "exp lies too far ahead (beyond max_token_lifetime)";
    case TokenError::BadGrant: return "invalid ch/pub pattern (channel-name characters, an optional trailing *)";
    case TokenError::BadWatch: return "invalid watch claim (more than 1000 user ids, or an invalid user id)";
  }
  return "unknown";
}

TokenVerifier::TokenVerifier(std::vector<std::string> secrets, int64_t leewaySeconds, int64_t maxLifetimeSeconds)
    : secrets_(std::move(secrets)), leewaySeconds_(leewaySeconds), maxLifetimeSeconds_(maxLifetimeSeconds) {
  if (secrets_.empty()) throw std::invalid_argument("token verifier: at least one secret is required");
  for (const auto& s : secrets_) {
    if (s.size() < kMinSecretBytes) {
      throw std::invalid_argument("token verifier: each secret must be at least 32 bytes");
    }
  }
  if (leewaySeconds_ < 0) throw std::invalid_argument("token verifier: leeway must not be negative");
  if (maxLifetimeSeconds_ < 0) throw std::invalid_argument("token verifier: the maximum lifetime must not be negative");
}

TokenResult TokenVerifier::verify(std::string_view token, int64_t nowSeconds) const {
  TokenResult result;
  auto fail = [&result](TokenError e) {
    result.error = e;
    result.claims = TokenClaims{};
    return result;
  };
  if (token.size() > kMaxTokenBytes) return fail(TokenError::Malformed);
  const size_t dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return fail(TokenError::Malformed);
  const size_t dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return fail(TokenError::Malformed);
  }
  const auto header = base64UrlDecode(token.substr(0, dot1));
  const auto payload = base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  const auto signature = base64UrlDecode(token.substr(dot2 + 1));
  if (!header || !payload || !signature) return fail(TokenError::Malformed);

  if (TokenError e = checkHeader(*header); e != TokenError::None) return fail(e);

  if (signature->size() != kSha256Bytes) return fail(TokenError::BadSignature);
  const std::string_view signingInput = token.substr(0, dot2);
  bool signatureOk = false;
  for (const auto& secret : secrets_) {
    const Digest mac = hmacSha256(secret, signingInput);
    // Constant time, so the comparison leaks nothing about how many leading bytes matched.
    if (CRYPTO_memcmp(mac.data(), signature->data(), kSha256Bytes) == 0) {
      signatureOk = true;
      break;
    }
  }
  if (!signatureOk) return fail(TokenError::BadSignature);

  if (TokenError e = readClaims(*payload, result.claims); e != TokenError::None) return fail(e);
  if (saturatingAdd(result.claims.exp, leewaySeconds_) <= nowSeconds) return fail(TokenError::Expired);
  if (saturatingAdd(result.claims.nbf, -leewaySeconds_) > nowSeconds) return fail(TokenError::NotYetValid);
  if (maxLifetimeSeconds_ > 0 &&
      saturatingAdd(result.claims.exp, -leewaySeconds_) > saturatingAdd(nowSeconds, maxLifetimeSeconds_)) {
    return fail(TokenError::TooLong);
  }
  return result;
}

std::string issueToken(const TokenClaims& claims, std::string_view secret) {
  std::string payload;
  JsonWriter w(payload);
  w.beginObject().key("sub").string(claims.sub).key("exp").integer(claims.exp);
  if (claims.nbf != 0) w.key("nbf").integer(claims.nbf);
  if (claims.iat != 0) w.key("iat").integer(claims.iat);
  if (!claims.jti.empty()) w.key("jti").string(claims.jti);
  w.key("ch").beginArray();
  for (const auto& p : claims.subscribe) w.string(p);
  w.endArray();
  if (claims.publish != claims.subscribe) {
    w.key("pub").beginArray();
    for (const auto& p : claims.publish) w.string(p);
    w.endArray();
  }
  if (!claims.presence.empty()) {
    w.key("presence").beginArray();
    for (const auto& p : claims.presence) w.string(p);
    w.endArray();
  }
  if (!claims.watch.empty()) {
    w.key("watch").beginArray();
    for (const auto& u : claims.watch) w.string(u);
    w.endArray();
  }
  w.endObject();

  std::string token = base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})");
  token += '.';
  token += base64UrlEncode(payload);
  const Digest mac = hmacSha256(secret, token);
  token += '.';
  token += base64UrlEncode(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
  return token;
}

bool isValidUserId(std::string_view sub) noexcept {
  if (sub.empty() || sub.size() > kMaxSubjectBytes) return false;
  for (char c : sub) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return false;
  }
  return true;
}

bool isValidGrantPattern(std::string_view pattern) noexcept {
  if (pattern.size() > kMaxChannelBytes) return false;
  if (!pattern.empty() && pattern.back() == '*') {
    pattern.remove_suffix(1);
    return pattern.empty() || isValidChannelName(pattern);  // "*" alone matches every channel
  }
  return isValidChannelName(pattern);
}

bool matchChannelPattern(std::string_view pattern, std::string_view channel) noexcept {
  if (!pattern.empty() && pattern.back() == '*') {
    return channel.substr(0, pattern.size() - 1) == pattern.substr(0, pattern.size() - 1);
  }
  return pattern == channel;
}

}  // namespace webim
