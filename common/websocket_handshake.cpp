#include "common/websocket_handshake.h"

#include <openssl/evp.h>

#include <array>
#include <charconv>
#include <stdexcept>

namespace webim {
namespace {

constexpr std::string_view kWebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";  // RFC 6455 1.3
constexpr std::string_view kSupportedVersion = "13";
constexpr size_t kKeyBase64Length = 24;  // base64 of 16 bytes: 22 significant characters + "=="
constexpr int kSwitchingProtocols = 101;

bool isBase64Char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

bool isValidKey(std::string_view key) noexcept {
  if (key.size() != kKeyBase64Length || key.substr(kKeyBase64Length - 2) != "==") return false;
  for (char c : key.substr(0, kKeyBase64Length - 2)) {
    if (!isBase64Char(c)) return false;
  }
  return true;
}

std::string_view trimOws(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The schemes of pages that can be same-origin with us, and their default ports.
std::string_view defaultPort(std::string_view scheme) noexcept {
  if (equalsIgnoreCase(scheme, "http")) return "80";
  if (equalsIgnoreCase(scheme, "https")) return "443";
  return {};
}

// Splits "host[:port]" (host may be a bracketed IPv6 literal); port is empty when absent.
void splitHostPort(std::string_view authority, std::string_view& host, std::string_view& port) noexcept {
  const size_t close = authority.rfind(']');
  const size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && (close == std::string_view::npos || colon > close)) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  } else {
    host = authority;
    port = {};
  }
}

// Same-origin: an http or https page whose host[:port] names the Host the browser connected to. A
// port equal to the scheme's default may be present on one side only (TLS is terminated in front, so
// Host may carry it). Any other scheme (chrome-extension://, file://, ws://, ...) is never
// same-origin, whatever its host: such Origins must be listed in allowed_origins.
bool isSameOrigin(std::string_view origin, std::string_view host) noexcept {
  const size_t sep = origin.find("://");
  if (sep == std::string_view::npos || sep == 0) return false;
  const std::string_view scheme = origin.substr(0, sep);
  const std::string_view fallback = defaultPort(scheme);
  if (fallback.empty()) return false;
  const std::string_view authority = origin.substr(sep + 3);
  if (authority.empty() || authority.find_first_of("/?#@") != std::string_view::npos) return false;
  if (equalsIgnoreCase(authority, host)) return true;
  std::string_view originHost, originPort, hostHost, hostPort;
  splitHostPort(authority, originHost, originPort);
  splitHostPort(host, hostHost, hostPort);
  if (!equalsIgnoreCase(originHost, hostHost)) return false;
  return (originPort.empty() ? fallback : originPort) == (hostPort.empty() ? fallback : hostPort);
}

}  // namespace

bool isOriginAllowed(const HttpRequest& request, const HandshakePolicy& policy) {
  const auto origin = request.header("Origin");
  if (!origin) return policy.allowMissingOrigin;
  if (policy.allowAnyOrigin) return true;
  for (const std::string& allowed : policy.allowedOrigins) {
    // Scheme and host are case-insensitive; browsers serialize them in lower case anyway.
    if (equalsIgnoreCase(*origin, allowed)) return true;
  }
  const auto host = request.header("Host");
  return host && isSameOrigin(*origin, *host);
}

std::string withHeaders(std::string response, std::string_view extraHeaders) {
  if (!extraHeaders.empty()) {
    const size_t headEnd = response.find("\r\n\r\n");
    if (headEnd != std::string::npos) response.insert(headEnd + 2, extraHeaders);
  }
  return response;
}

std::string withoutBody(std::string response) {
  const size_t headEnd = response.find("\r\n\r\n");
  if (headEnd != std::string::npos) response.resize(headEnd + 4);
  return response;
}

namespace {

// Error response with extra header lines (each "Name: value\r\n") before the blank line.
HandshakeResult reject(int status, std::string_view body, std::string_view extraHeaders = {}) {
  return {status, withHeaders(httpResponse(status, "text/plain; charset=utf-8", body), extraHeaders)};
}

}  // namespace

bool headerListContainsToken(std::string_view list, std::string_view token) noexcept {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    if (equalsIgnoreCase(trimOws(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

std::string computeAcceptKey(std::string_view secWebSocketKey) {
  std::string input;
  input.reserve(secWebSocketKey.size() + kWebSocketGuid.size());
  input.append(secWebSocketKey).append(kWebSocketGuid);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digestLength = 0;
  if (EVP_Digest(input.data(), input.size(), digest.data(), &digestLength, EVP_sha1(), nullptr) != 1) {
    throw std::runtime_error("EVP_Digest(SHA-1) failed");
  }
  std::array<unsigned char, 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1> encoded{};
  const int encodedLength = EVP_EncodeBlock(encoded.data(), digest.data(), static_cast<int>(digestLength));
  return std::string(reinterpret_cast<const char*>(encoded.data()), static_cast<size_t>(encodedLength));
}

std::string_view httpReasonPhrase(int status) noexcept {
  switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::string httpResponse(int status, std::string_view contentType, std::string_view body, bool keepAlive) {
  std::array<char, 24> number{};
  std::string response;
  response.reserve(128 + contentType.size() + body.size());
  response.append("HTTP/1.1 ");
  response.append(number.data(), std::to_chars(number.data(), number.data() + number.size(), status).ptr);
  response.append(" ").append(httpReasonPhrase(status)).append("\r\n");
  if (!contentType.empty()) response.append("Content-Type: ").append(contentType).append("\r\n");
  response.append("Content-Length: ");
  response.append(number.data(), std::to_chars(number.data(), number.data() + number.size(), body.size()).ptr);
  response.append("\r\n");
  if (!keepAlive) response.append("Connection: close\r\n");
  response.append("\r\n").append(body);
  return response;
}

HandshakeResult acceptWebSocket(const HttpRequest& request, const HandshakePolicy& policy) {
  if (request.method != "GET") return reject(405, "WebSocket upgrade requires GET\n", "Allow: GET\r\n");
  if (request.version != "HTTP/1.1") return reject(400, "WebSocket upgrade requires HTTP/1.1\n");
  if (request.headerCount("Host") != 1) return reject(400, "exactly one Host header required\n");
  const auto upgrade = request.header("Upgrade");
  if (!upgrade || !headerListContainsToken(*upgrade, "websocket")) {
    return reject(426, "WebSocket upgrade required\n", "Upgrade: websocket\r\n");
  }
  const auto connection = request.header("Connection");
  if (!connection || !headerListContainsToken(*connection, "upgrade")) {
    return reject(400, "Connection header must contain upgrade\n");
  }
  const auto version = request.header("Sec-WebSocket-Version");
  if (!version || *version != kSupportedVersion || request.headerCount("Sec-WebSocket-Version") != 1) {
    return reject(426, "unsupported WebSocket version\n", "Sec-WebSocket-Version: 13\r\n");
  }
  const auto key = request.header("Sec-WebSocket-Key");
  if (!key || request.headerCount("Sec-WebSocket-Key") != 1 || !isValidKey(*key)) {
    return reject(400, "invalid Sec-WebSocket-Key\n");
  }
  if (request.headerCount("Origin") > 1 || !isOriginAllowed(request, policy)) {
    return reject(403, "origin not allowed\n");
  }
  std::string response;
  response.reserve(160);
  response.append("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n");
  response.append("Sec-WebSocket-Accept: ").append(computeAcceptKey(*key)).append("\r\n\r\n");
  return {kSwitchingProtocols, std::move(response)};
}

}  // namespace webim
