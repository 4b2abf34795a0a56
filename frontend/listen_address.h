// "HOST:PORT" / "[V6]:PORT" -> socket address, without name resolution (listen addresses are numeric).
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

}  // namespace webim
