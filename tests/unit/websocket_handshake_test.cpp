#include <catch2/catch.hpp>

#include <string>

#include "common/http_request_parser.h"
#include "common/websocket_handshake.h"

using webim::acceptWebSocket;
using webim::computeAcceptKey;
using webim::HandshakePolicy;
using webim::HandshakeResult;
using webim::HttpRequestParser;
using webim::httpResponse;

namespace {

constexpr const char* kSampleKey = "dGhlIHNhbXBsZSBub25jZQ==";
// RFC 6455 section 1.3 (also checked with `openssl dgst -sha1 -binary | base64`).
constexpr const char* kSampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

struct Headers {
  std::string method = "GET";
  std::string version = "HTTP/1.1";
  std::string host = "chat.example.com";
  std::string upgrade = "websocket";
  std::string connection = "Upgrade";
  std::string key = kSampleKey;
  std::string wsVersion = "13";
  std::string origin;  // omitted when empty
  std::string extra;   // raw extra header lines
};

std::string build(const Headers& h) {
  std::string s = h.method + " /ws " + h.version + "\r\n";
  if (!h.host.empty()) s += "Host: " + h.host + "\r\n";
  if (!h.upgrade.empty()) s += "Upgrade: " + h.upgrade + "\r\n";
  if (!h.connection.empty()) s += "Connection: " + h.connection + "\r\n";
  if (!h.key.empty()) s += "Sec-WebSocket-Key: " + h.key + "\r\n";
  if (!h.wsVersion.empty()) s += "Sec-WebSocket-Version: " + h.wsVersion + "\r\n";
  if (!h.origin.empty()) s += "Origin: " + h.origin + "\r\n";
  return s + h.extra + "\r\n";
}

HandshakeResult handshake(const Headers& h, const HandshakePolicy& policy = {}) {
  HttpRequestParser parser;
  const std::string raw = build(h);
  const auto r = parser.consume(raw);
  REQUIRE(r.status == HttpRequestParser::Status::Done);
  return acceptWebSocket(parser.request(), policy);
}

int statusOf(const Headers& h, const HandshakePolicy& policy = {}) { return handshake(h, policy).status; }

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

}  // namespace

TEST_CASE("handshake: RFC 6455 sample accept key", "[handshake]") {
  CHECK(computeAcceptKey(kSampleKey) == kSampleAccept);
  CHECK(computeAcceptKey("x3JJHMbDL1EzLkh9GBhXDw==") == "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

TEST_CASE("handshake: valid upgrade gets exactly the 101 response", "[handshake]") {
  const HandshakeResult r = handshake(Headers{});
  CHECK(r.status == 101);
  CHECK(r.response ==
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        "\r\n");
}

TEST_CASE("handshake: header values are matched case-insensitively and as token lists", "[handshake]") {
  Headers h;
  h.upgrade = "WebSocket";
  h.connection = "keep-alive, Upgrade";
  CHECK(statusOf(h) == 101);
  h.connection = "UPGRADE";
  CHECK(statusOf(h) == 101);
  h.connection = "keep-alive,upgrade ";
  CHECK(statusOf(h) == 101);
  h.connection = "upgrade-insecure";  // a token that merely starts with "upgrade"
  CHECK(statusOf(h) == 400);
  // Subprotocols and extensions are not negotiated, so nothing is echoed.
  Headers ext;
  ext.extra = "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: permessage-deflate\r\n";
  const HandshakeResult r = handshake(ext);
  CHECK(r.status == 101);
  CHECK_FALSE(contains(r.response, "Sec-WebSocket-Protocol"));
  CHECK_FALSE(contains(r.response, "Sec-WebSocket-Extensions"));
}

TEST_CASE("handshake: request line requirements", "[handshake]") {
  Headers post;
  post.method = "POST";
  const HandshakeResult r = handshake(post);
  CHECK(r.status == 405);
  CHECK(contains(r.response, "\r\nAllow: GET\r\n"));
  Headers old;
  old.version = "HTTP/1.0";
  CHECK(statusOf(old) == 400);
  // Without exactly one Host the parser already answers 400 (RFC 9112 3.2); the handshake checks
  // again for requests that come from elsewhere.
  Headers noHost;
  noHost.host.clear();
  HttpRequestParser parser;
  CHECK(parser.consume(build(noHost)).status == HttpRequestParser::Status::Error);
  CHECK(parser.errorStatus() == 400);
  Headers twoHosts;
  twoHosts.extra = "Host: other.example.com\r\n";
  parser.reset();
  CHECK(parser.consume(build(twoHosts)).status == HttpRequestParser::Status::Error);
  CHECK(parser.errorStatus() == 400);
  const std::string valid = build(Headers{});
  parser.reset();
  REQUIRE(parser.consume(valid).status == HttpRequestParser::Status::Done);
  webim::HttpRequest request = parser.request();
  std::erase_if(request.headers, [](const webim::HttpHeader& h) { return webim::equalsIgnoreCase(h.name, "Host"); });
  CHECK(acceptWebSocket(request, {}).status == 400);
  request.headers.push_back({"Host", "a"});
  request.headers.push_back({"host", "b"});
  CHECK(acceptWebSocket(request, {}).status == 400);
}

TEST_CASE("handshake: missing or wrong Upgrade is 426", "[handshake]") {
  Headers missing;
  missing.upgrade.clear();
  const HandshakeResult r = handshake(missing);
  CHECK(r.status == 426);
  CHECK(contains(r.response, "\r\nUpgrade: websocket\r\n"));
  CHECK(contains(r.response, "\r\nConnection: close\r\n"));
  Headers h2c;
  h2c.upgrade = "h2c";
  CHECK(statusOf(h2c) == 426);
  Headers noConnection;
  noConnection.connection.clear();
  CHECK(statusOf(noConnection) == 400);
}

TEST_CASE("handshake: missing or wrong version is 426 with Sec-WebSocket-Version: 13", "[handshake]") {
  for (const char* version : {"", "8", "12", "14", "13, 8", " 13x"}) {
    INFO("version '" << version << "'");
    Headers h;
    h.wsVersion = version;
    const HandshakeResult r = handshake(h);
    CHECK(r.status == 426);
    CHECK(contains(r.response, "HTTP/1.1 426 Upgrade Required\r\n"));
    CHECK(contains(r.response, "\r\nSec-WebSocket-Version: 13\r\n"));
  }
  Headers twice;
  twice.extra = "Sec-WebSocket-Version: 13\r\n";
  CHECK(statusOf(twice) == 426);
}

TEST_CASE("handshake: Sec-WebSocket-Key must be base64 of 16 bytes", "[handshake]") {
  for (const char* key : {"", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZQ===",
                          "dGhlIHNhbXBsZSBub25j*Q==", "dGhlIHNhbXBsZSBub25jZQA=", "dGhlIHNhbXBsZSBub25jZSBhYmNk",
                          "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}) {
    INFO("key '" << key << "'");
    Headers h;
    h.key = key;
    const HandshakeResult r = handshake(h);
    CHECK(r.status == 400);
    CHECK(contains(r.response, "HTTP/1.1 400 Bad Request\r\n"));
  }
  Headers twice;
  twice.extra = "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n";
  CHECK(statusOf(twice) == 400);
  Headers other;
  other.key = "AAAAAAAAAAAAAAAAAAAAAA==";
  CHECK(statusOf(other) == 101);
}

TEST_CASE("handshake: Origin policy", "[handshake]") {
  HandshakePolicy policy;
  policy.allowedOrigins = {"https://app.example.com", "http://localhost:3000"};

  Headers h;
  SECTION("missing Origin follows allowMissingOrigin") {
    CHECK(statusOf(h, policy) == 101);
    policy.allowMissingOrigin = false;
    const HandshakeResult r = handshake(h, policy);
    CHECK(r.status == 403);
    CHECK(contains(r.response, "HTTP/1.1 403 Forbidden\r\n"));
    CHECK(contains(r.response, "\r\nConnection: close\r\n"));
  }
  SECTION("same origin") {
    h.origin = "https://chat.example.com";
    CHECK(statusOf(h, policy) == 101);
    h.origin = "http://CHAT.example.com";
    CHECK(statusOf(h, policy) == 101);
    h.host = "chat.example.com:443";  // default port on the Host side only
    h.origin = "https://chat.example.com";
    CHECK(statusOf(h, policy) == 101);
    h.host = "chat.example.com:8443";
    CHECK(statusOf(h, policy) == 403);
    h.origin = "https://chat.example.com:8443";
    CHECK(statusOf(h, policy) == 101);
    h.host = "[::1]:8080";
    h.origin = "http://[::1]:8080";
    CHECK(statusOf(h, policy) == 101);
  }
  SECTION("allowed list") {
    h.origin = "https://app.example.com";
    CHECK(statusOf(h, policy) == 101);
    h.origin = "http://localhost:3000";
    CHECK(statusOf(h, policy) == 101);
    h.origin = "http://localhost:3001";
    CHECK(statusOf(h, policy) == 403);
    h.origin = "http://app.example.com";  // scheme matters
    CHECK(statusOf(h, policy) == 403);
  }
  SECTION("denied") {
    for (const char* origin : {"https://evil.example.com", "https://chat.example.com.evil.com", "null",
                               "https://evil.com/chat.example.com", "chat.example.com", "https://user@chat.example.com"}) {
      INFO(origin);
      h.origin = origin;
      CHECK(statusOf(h, policy) == 403);
    }
    h.origin = "https://chat.example.com";
    h.extra = "Origin: https://evil.example.com\r\n";  // duplicated Origin
    CHECK(statusOf(h, policy) == 403);
  }
  SECTION("same host and port under another scheme is not same-origin") {
    // An extension page, or a page of another scheme, with the site's host: only http and https
    // pages are same-origin (the allowed list still takes any exact Origin).
    for (const char* origin : {"chrome-extension://chat.example.com", "moz-extension://chat.example.com",
                               "ws://chat.example.com", "wss://chat.example.com", "file://chat.example.com",
                               "ftp://chat.example.com", "javascript://chat.example.com", "https+x://chat.example.com"}) {
      INFO(origin);
      h.origin = origin;
      CHECK(statusOf(h, policy) == 403);
    }
    h.host = "chat.example.com:8080";
    h.origin = "chrome-extension://chat.example.com:8080";
    CHECK(statusOf(h, policy) == 403);
    h.origin = "HTTPS://chat.example.com:8080";
    CHECK(statusOf(h, policy) == 101);
    policy.allowedOrigins.push_back("chrome-extension://abcdefghijklmnop");
    h.origin = "chrome-extension://abcdefghijklmnop";
    CHECK(statusOf(h, policy) == 101);
  }
  SECTION("allowAnyOrigin") {
    policy.allowAnyOrigin = true;
    h.origin = "https://evil.example.com";
    CHECK(statusOf(h, policy) == 101);
  }
}

TEST_CASE("handshake: httpResponse builds complete responses", "[handshake]") {
  CHECK(httpResponse(200, "text/plain", "ok\n") ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n");
  CHECK(httpResponse(204, "", "", true) == "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
  CHECK(httpResponse(431, "text/plain", "") ==
        "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n"
        "Connection: close\r\n\r\n");
  const std::string body(70000, 'x');
  const std::string big = httpResponse(200, "application/json", body, true);
  CHECK(contains(big, "\r\nContent-Length: 70000\r\n\r\n"));
  CHECK(big.size() == big.find("\r\n\r\n") + 4 + body.size());
}

TEST_CASE("handshake: error responses carry a body matching Content-Length", "[handshake]") {
  Headers h;
  h.wsVersion = "8";
  const HandshakeResult r = handshake(h);
  const size_t headEnd = r.response.find("\r\n\r\n");
  REQUIRE(headEnd != std::string::npos);
  const std::string body = r.response.substr(headEnd + 4);
  CHECK_FALSE(body.empty());
  CHECK(contains(r.response, "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n"));
}

TEST_CASE("handshake: withoutBody answers HEAD with GET's head, Content-Length included", "[handshake]") {
  CHECK(webim::withoutBody(httpResponse(200, "text/plain", "ok\n")) ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\n");
  const std::string empty = httpResponse(204, "", "");
  CHECK(webim::withoutBody(empty) == empty);
  const std::string body = "line\r\n\r\nmore";  // a body holding a blank line is cut at the head's end
  CHECK(webim::withoutBody(httpResponse(404, "text/plain", body)).find("Content-Length: 12\r\n") != std::string::npos);
  CHECK(webim::withoutBody(httpResponse(404, "text/plain", body)).ends_with("Connection: close\r\n\r\n"));
}
