#include "frontend/listen_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>

namespace webim {

std::optional<ListenAddress> parseListenAddress(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon + 1 >= text.size()) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  std::string_view portText = text.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
  if (ec != std::errc() || end != portText.data() + portText.size() || port > 65535) return std::nullopt;

  ListenAddress out;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    std::string h(host.substr(1, host.size() - 2));
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, h.c_str(), &a6->sin6_addr) != 1) return std::nullopt;
    out.length = sizeof(sockaddr_in6);
    return out;
  }
  std::string h(host.empty() ? "0.0.0.0" : host);
  auto* a4 = reinterpret_cast<sockaddr_in*>(&out.storage);
  a4->sin_family = AF_INET;
  a4->sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, h.c_str(), &a4->sin_addr) != 1) return std::nullopt;
  out.length = sizeof(sockaddr_in);
  return out;
}

std::string formatAddress(const sockaddr* address) {
  char host[INET6_ADDRSTRLEN] = {0};
  if (address->sa_family == AF_INET6) {
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(address);
    inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof(host));
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(a6->sin6_port));
  }
  const auto* a4 = reinterpret_cast<const sockaddr_in*>(address);
  inet_ntop(AF_INET, &a4->sin_addr, host, sizeof(host));
  return std::string(host) + ":" + std::to_string(ntohs(a4->sin_port));
}

int openListeningSocket(const std::string& address, bool reusePort, int backlog, const std::string& what) {
  std::optional<ListenAddress> parsed = parseListenAddress(address);
  if (!parsed) throw std::runtime_error("bad " + what);
  int fd = ::socket(parsed->storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + strerror(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if ((reusePort && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
      ::bind(fd, reinterpret_cast<const sockaddr*>(&parsed->storage), parsed->length) != 0 ||
      ::listen(fd, backlog) != 0) {
    std::string why = strerror(errno);
    ::close(fd);
    throw std::runtime_error("cannot listen on " + what + ": " + why);
  }
  return fd;
}

}  // namespace webim
