// Z85 (ZeroMQ RFC 32): the text form of CURVE keys, 5 characters per 4 bytes. Pure, no I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace webim {

// `bytes` must be a multiple of 4 bytes long (a CURVE key: 32 bytes -> 40 characters); nullopt otherwise.
std::optional<std::string> z85Encode(std::string_view bytes);

// The inverse: nullopt for a length not a multiple of 5, a character outside the alphabet, or a
// group whose value exceeds 32 bits.
std::optional<std::string> z85Decode(std::string_view text);

}  // namespace webim
