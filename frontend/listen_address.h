// "HOST:PORT" / "[V6]:PORT" -> socket address, without name resolution (listen addresses are numeric),
// and the listening socket on it.
#pragma once

#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>

namespace webim {

struct ListenAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

std::optional<ListenAddress> parseListenAddress(std::string_view text);
// Formats a bound address as HOST:PORT (IPv6 in brackets).
std::string formatAddress(const sockaddr* address);
// A non-blocking TCP socket listening on `address` (SO_REUSEADDR; SO_REUSEPORT too when
// `reusePort`, so that several processes share the port). Throws std::runtime_error naming
// `what` (the setting: "listen address 0.0.0.0:8080") and why.
int openListeningSocket(const std::string& address, bool reusePort, int backlog, const std::string& what);

}  // namespace webim
