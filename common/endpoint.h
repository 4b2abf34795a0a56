// ZeroMQ endpoint helpers (pure). Off loopback, the hub's ingresses and publish socket require
// CURVE (docs/architecture.md "Peer authentication"); ipc:// and tcp:// on 127.0.0.0/8, localhost or ::1 count as
// loopback.
#pragma once

#include <string_view>

namespace webim {

// The one endpoint rule of both programs: the sockets between a frontend, a hub and an app join
// separate processes, so an endpoint is tcp:// or ipc:// followed by an address. inproc:// is
// refused: it reaches only sockets in the same process.
bool isPeerEndpoint(std::string_view endpoint) noexcept;

// For a peer endpoint (isPeerEndpoint): whether only this host can reach it.
bool isLoopbackEndpoint(std::string_view endpoint) noexcept;

// A Z85-encoded CURVE key: exactly 40 characters of the Z85 alphabet.
bool isZ85Key(std::string_view key) noexcept;

}  // namespace webim
