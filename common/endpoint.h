// ZeroMQ endpoint helpers (pure). Off loopback, the hub's ingresses and publish socket require
// CURVE (docs/protocol.md section 4); ipc://, inproc:// and tcp:// on 127.0.0.0/8, localhost or ::1
// count as loopback.
#pragma once

#include <string_view>

namespace webim {

bool isLoopbackEndpoint(std::string_view endpoint) noexcept;

// A Z85-encoded CURVE key: exactly 40 characters of the Z85 alphabet.
bool isZ85Key(std::string_view key) noexcept;

}  // namespace webim
