// RFC 6455 section 4.2 server handshake: validates an Upgrade request and builds the response bytes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/http_request_parser.h"

namespace webim {

struct HandshakePolicy {
  std::vector<std::string> allowedOrigins;  // exact "scheme://host[:port]" matches, in addition to same-origin
  bool allowMissingOrigin = true;           // non-browser clients send no Origin
  bool allowAnyOrigin = false;
};

struct HandshakeResult {
  int status;            // 101 on success, else 400/403/405/426
  std::string response;  // complete HTTP response bytes to write (101 with Sec-WebSocket-Accept, or an error with Connection: close and a short text body)
};

// Validates an Upgrade request (GET, HTTP/1.1, Upgrade: websocket, Connection contains upgrade token,
// Sec-WebSocket-Version: 13 (else 426 with "Sec-WebSocket-Version: 13"), Sec-WebSocket-Key is base64 of 16 bytes,
// Origin policy: same-origin means an http:// or https:// Origin whose host[:port] equals the Host
// header, a default port on either side standing for itself; other Origins must be in
// allowedOrigins, compared exactly) and builds the response.
// Status codes: 405 (not GET, with "Allow: GET"), 400 (not HTTP/1.1, missing/duplicated Host, no upgrade
// token in Connection, bad or duplicated key), 426 (Upgrade is not websocket: "Upgrade: websocket";
// version not 13: "Sec-WebSocket-Version: 13"), 403 (Origin denied). No subprotocol or extension is
// negotiated, so Sec-WebSocket-Protocol / -Extensions are ignored and never echoed.
HandshakeResult acceptWebSocket(const HttpRequest& request, const HandshakePolicy& policy);
// The Origin policy alone (also used for CORS on the HTTP fallback).
bool isOriginAllowed(const HttpRequest& request, const HandshakePolicy& policy);
// Inserts header lines (each "Name: value\r\n") into a complete response, before the blank line.
std::string withHeaders(std::string response, std::string_view extraHeaders);
// The answer to a HEAD request: the complete response `response` less its body (the status line and
// headers stay, Content-Length still counting the body that is not sent; RFC 9110 9.3.2).
std::string withoutBody(std::string response);

std::string computeAcceptKey(std::string_view secWebSocketKey);  // base64(SHA-1(key + GUID)) via OpenSSL

// Builds a small complete HTTP/1.1 response (Content-Length set, Connection: close unless keepAlive).
// An empty contentType omits the Content-Type header.
std::string httpResponse(int status, std::string_view contentType, std::string_view body, bool keepAlive = false);

// Standard reason phrase for the statuses this server emits ("Unknown" otherwise).
std::string_view httpReasonPhrase(int status) noexcept;

// True when `list` (a comma-separated header value) contains `token`, compared case-insensitively.
bool headerListContainsToken(std::string_view list, std::string_view token) noexcept;

}  // namespace webim
