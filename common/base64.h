// Base64 (RFC 4648): the standard padded form (WebSocket handshake) and the URL-safe, unpadded
// form used by JWTs. Pure and allocation-only; no I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace webim {

// Standard alphabet (+/), padded with '=' to a multiple of 4 characters.
std::string base64Encode(std::string_view bytes);

// RFC 4648 section 5 alphabet (-_), no padding (as JWT requires).
std::string base64UrlEncode(std::string_view bytes);

// Strict inverse of base64UrlEncode. Returns nullopt for: any '=' padding, characters outside the
// URL-safe alphabet (including whitespace and the standard '+' '/'), lengths with remainder 1 mod 4,
// and non-canonical encodings whose unused trailing bits are not zero. Rejecting non-canonical
// input means each byte string has exactly one accepted text, so a signed token cannot be
// re-encoded into a different-looking but still valid token.
std::optional<std::string> base64UrlDecode(std::string_view text);

}  // namespace webim
