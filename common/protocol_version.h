// The wire contract's version (docs/protocol.md), named in the WebSocket `auth` reply and the HTTP
// fallback's `/session` reply as "v", so a client can tell which requests the server takes.
#pragma once

#include <string_view>

namespace webim {

inline constexpr std::string_view kProtocolVersion = "1.1";

}  // namespace webim
