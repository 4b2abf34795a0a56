// A connection's event lines (docs/deploy.md "Logs"): rate-limit and slow-consumer closes, refused
// tokens. Each names the peer's address (the TCP peer: behind a proxy, the proxy), the transport and
// the user where known, and is rate-limited per kind (common/program/logging.h): the address is
// looked up only for a line that will be written.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <vector>

#include "common/program/logging.h"
#include "frontend/connection.h"

namespace webim {

namespace {

// "192.0.2.1:5000", "[2001:db8::1]:5000"; "" when the socket is gone.
std::string peerAddress(int fd) {
  sockaddr_storage peer{};
  socklen_t length = sizeof(peer);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0) return {};
  char text[INET6_ADDRSTRLEN] = {};
  if (peer.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&peer);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    return std::string(text) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (peer.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&peer);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    return "[" + std::string(text) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  return {};
}

}  // namespace

std::string_view Connection::transportName() const noexcept {
  switch (phase_) {
    case Phase::WebSocket:
      return "ws";
    case Phase::Stream:
      return stream() && stream()->eventStream ? "sse" : "poll";
    case Phase::Http:
      return "http";
    default:
      return countedWebSocket_ ? "ws" : "http";
  }
}

void Connection::logEvent(LogEvent event, std::string_view message, std::initializer_list<LogField> more) {
  if (!admitLogEvent(event)) return;
  std::vector<LogField> fields;
  fields.reserve(3 + more.size());
  fields.emplace_back("addr", peerAddress(fd_));
  fields.emplace_back("transport", transportName());
  if (!session_.user.empty()) fields.emplace_back("user", session_.user);
  fields.insert(fields.end(), more.begin(), more.end());
  writeLogEvent(event, message, fields);
}

void Connection::logRefused(std::string_view credential, std::string_view reason) {
  logEvent(LogEvent::TokenRejected, std::string(credential) + " rejected",
           {{"credential", credential}, {"reason", reason}});
}

}  // namespace webim
