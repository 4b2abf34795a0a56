#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "common/http_request_parser.h"

using webim::HttpLimits;
using webim::HttpRequest;
using webim::HttpRequestParser;
using Status = HttpRequestParser::Status;

namespace {

const std::string kUpgrade =
    "GET /ws?room=7 HTTP/1.1\r\n"
    "Host: chat.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Origin: https://chat.example.com\r\n"
    "X-Spaces:   padded value \t \r\n"
    "X-Empty:\r\n"
    "\r\n";

// A flattened view of a parsed request, so results of different splits can be compared.
std::vector<std::string> describe(const HttpRequest& r) {
  std::vector<std::string> out = {std::string(r.method), std::string(r.target), std::string(r.version)};
  for (const auto& h : r.headers) out.push_back(std::string(h.name) + "=" + std::string(h.value) + "|");
  return out;
}

struct Outcome {
  Status status;
  int errorStatus = 0;
  size_t consumed = 0;  // total bytes consumed across calls
  std::vector<std::string> request;
};

// Feeds `input` in the given chunk boundaries and stops at the first non-NeedMore status.
Outcome feed(const std::string& input, const std::vector<size_t>& cuts, HttpLimits limits = {}) {
  HttpRequestParser parser(limits);
  Outcome out{Status::NeedMore, 0, 0, {}};
  size_t from = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(input.size());
  for (size_t end : ends) {
    const auto r = parser.consume(std::string_view(input).substr(from, end - from));
    out.status = r.status;
    out.consumed += r.consumed;
    from = end;
    if (r.status != Status::NeedMore) break;
  }
  if (out.status == Status::Done) out.request = describe(parser.request());
  if (out.status == Status::Error) out.errorStatus = parser.errorStatus();
  return out;
}

Outcome feedWhole(const std::string& input, HttpLimits limits = {}) { return feed(input, {}, limits); }

int errorOf(const std::string& input, HttpLimits limits = {}) {
  const Outcome o = feedWhole(input, limits);
  return o.status == Status::Error ? o.errorStatus : 0;
}

}  // namespace

TEST_CASE("http: parses a WebSocket upgrade request", "[http]") {
  HttpRequestParser parser;
  const auto r = parser.consume(kUpgrade);
  REQUIRE(r.status == Status::Done);
  CHECK(r.consumed == kUpgrade.size());
  const HttpRequest& req = parser.request();
  CHECK(req.method == "GET");
  CHECK(req.target == "/ws?room=7");
  CHECK(req.version == "HTTP/1.1");
  CHECK(req.path() == "/ws");
  REQUIRE(req.headers.size() == 8);
  CHECK(req.headers[0].name == "Host");
  CHECK(req.headers[0].value == "chat.example.com");
  CHECK(req.header("host") == std::optional<std::string_view>("chat.example.com"));
  CHECK(req.header("SEC-WEBSOCKET-KEY") == std::optional<std::string_view>("dGhlIHNhbXBsZSBub25jZQ=="));
  CHECK(req.header("x-spaces") == std::optional<std::string_view>("padded value"));
  CHECK(req.header("X-Empty") == std::optional<std::string_view>(""));
  CHECK_FALSE(req.header("Cookie").has_value());
  CHECK(req.headerCount("upgrade") == 1);
  // Further input after Done is not consumed.
  const auto again = parser.consume("more");
  CHECK(again.status == Status::Done);
  CHECK(again.consumed == 0);
}

TEST_CASE("http: same result when split at every offset and byte by byte", "[http]") {
  const Outcome whole = feedWhole(kUpgrade);
  REQUIRE(whole.status == Status::Done);
  for (size_t cut = 0; cut <= kUpgrade.size(); ++cut) {
    INFO("cut " << cut);
    const Outcome split = feed(kUpgrade, {cut});
    CHECK(split.status == Status::Done);
    CHECK(split.consumed == kUpgrade.size());
    CHECK(split.request == whole.request);
  }
  std::vector<size_t> everyByte;
  for (size_t i = 1; i < kUpgrade.size(); ++i) everyByte.push_back(i);
  const Outcome bytewise = feed(kUpgrade, everyByte);
  CHECK(bytewise.status == Status::Done);
  CHECK(bytewise.request == whole.request);
}

TEST_CASE("http: bytes after the head are left for the next protocol", "[http]") {
  const std::string frame = "\x81\x85\x01\x02\x03\x04payload";
  const std::string input = kUpgrade + frame;
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    INFO("cut " << cut);
    HttpRequestParser parser;
    auto first = parser.consume(std::string_view(input).substr(0, cut));
    size_t rest = cut;
    if (first.status == Status::NeedMore) {
      CHECK(first.consumed == cut);
      auto second = parser.consume(std::string_view(input).substr(cut));
      REQUIRE(second.status == Status::Done);
      CHECK(cut + second.consumed == kUpgrade.size());
      rest = cut + second.consumed;
    } else {
      REQUIRE(first.status == Status::Done);
      CHECK(first.consumed == kUpgrade.size());
      rest = first.consumed;
    }
    CHECK(input.substr(rest) == frame);
    CHECK(parser.request().header("Origin") == std::optional<std::string_view>("https://chat.example.com"));
  }
}

TEST_CASE("http: reset allows parsing another request", "[http]") {
  HttpRequestParser parser;
  REQUIRE(parser.consume("GET /bad\r\n\r\n").status == Status::Error);
  CHECK(parser.errorStatus() == 400);
  parser.reset();
  const auto r = parser.consume("GET /healthz HTTP/1.0\r\n\r\n");
  REQUIRE(r.status == Status::Done);
  CHECK(parser.request().path() == "/healthz");
  CHECK(parser.request().version == "HTTP/1.0");
  CHECK(parser.request().headers.empty());
}

TEST_CASE("http: request targets and path()", "[http]") {
  HttpRequestParser parser;
  REQUIRE(parser.consume("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n").status == Status::Done);
  CHECK(parser.request().target == "*");
  parser.reset();
  REQUIRE(parser.consume("GET http://h.example:8080/ws?x=1 HTTP/1.1\r\nHost: h\r\n\r\n").status == Status::Done);
  CHECK(parser.request().path() == "/ws");
  parser.reset();
  REQUIRE(parser.consume("GET http://h.example HTTP/1.1\r\nHost: h\r\n\r\n").status == Status::Done);
  CHECK(parser.request().path() == "/");
  parser.reset();
  REQUIRE(parser.consume("GET /events?sid=1#frag HTTP/1.1\r\nHost: h\r\n\r\n").status == Status::Done);
  CHECK(parser.request().path() == "/events");
}

TEST_CASE("http: malformed request lines are 400", "[http]") {
  const char* cases[] = {
      "GET /ws\r\n\r\n",                     // no version
      "GET  /ws HTTP/1.1\r\n\r\n",           // double space
      "GET /ws  HTTP/1.1\r\n\r\n",           // double space before version
      "GET /ws HTTP/1.1 \r\n\r\n",           // trailing space
      " GET /ws HTTP/1.1\r\n\r\n",           // leading space
      "GET\t/ws HTTP/1.1\r\n\r\n",           // tab separator
      "G(T /ws HTTP/1.1\r\n\r\n",            // non-token method
      "GET /w\x80s HTTP/1.1\r\n\r\n",        // raw non-ASCII in target
      "GET ws HTTP/1.1\r\n\r\n",             // not origin/absolute/asterisk form
      "CONNECT h:443 HTTP/1.1\r\n\r\n",      // authority-form
      "GET /ws http/1.1\r\n\r\n",            // lower-case version
      "GET /ws HTTP/1.1.1\r\n\r\n",
      "GET /ws HTTP/11\r\n\r\n",
      "GET /ws HTTP/a.1\r\n\r\n",
      "\r\nGET /ws HTTP/1.1\r\n\r\n",        // empty line before the request line
      "GET /ws HTTP/1.1\n\r\n",              // bare LF
      "GET /ws HTTP/1.1\r\r\n\r\n",          // bare CR
      "GET /ws HTTP/1.1\rX\n\r\n",           // bare CR inside the line
  };
  for (const char* c : cases) {
    INFO(c);
    CHECK(errorOf(c) == 400);
  }
}

TEST_CASE("http: malformed headers are 400", "[http]") {
  const std::string line = "GET /ws HTTP/1.1\r\n";
  const char* cases[] = {
      "Host : h\r\n\r\n",            // whitespace before colon
      "Host\r\n\r\n",                // no colon
      ": h\r\n\r\n",                 // empty name
      "Ho st: h\r\n\r\n",            // space in name
      "Host: h\r\n folded\r\n\r\n",  // obs-fold
      "Host: h\r\n\tfolded\r\n\r\n", // obs-fold with tab
      "Host: a\nX: b\r\n\r\n",       // bare LF
      "Host: a\rb\r\n\r\n",          // bare CR in value
      "Host: h\r\n\n",               // bare LF as the final line
      "X-A: b\x01\r\n\r\n",          // control character
      "X-A: b\x7F\r\n\r\n",          // DEL
      "X-\x80: b\r\n\r\n",           // non-ASCII in name
  };
  for (const char* c : cases) {
    INFO(c);
    CHECK(errorOf(line + c) == 400);
  }
  constexpr char kNul[] = "X-A: b\0c\r\n\r\n";
  CHECK(errorOf(line + std::string(kNul, sizeof kNul - 1)) == 400);  // NUL
  // HTAB and obs-text are allowed inside a value.
  const Outcome ok = feedWhole(line + "Host: h\r\nX-A: a\tb \xC3\xA9\r\n\r\n");
  REQUIRE(ok.status == Status::Done);
  CHECK(ok.request.back() == "X-A=a\tb \xC3\xA9|");
}

TEST_CASE("http: version checks", "[http]") {
  CHECK(feedWhole("GET / HTTP/1.1\r\nHost: h\r\n\r\n").status == Status::Done);
  CHECK(feedWhole("GET / HTTP/1.0\r\n\r\n").status == Status::Done);
  CHECK(errorOf("GET / HTTP/2.0\r\n\r\n") == 505);
  CHECK(errorOf("GET / HTTP/0.9\r\n\r\n") == 505);
  CHECK(errorOf("GET / HTTP/1.2\r\n\r\n") == 505);
  CHECK(errorOf("GET / HTTP/3.0\r\n\r\n") == 505);
  CHECK(errorOf("GET / HTTX/1.1\r\n\r\n") == 400);
  HttpRequestParser parser;
  REQUIRE(parser.consume("GET / HTTP/2.0\r\n").status == Status::Error);  // before the head ends
  CHECK(parser.errorStatus() == 505);
  CHECK(std::string(parser.errorReason()) == "HTTP version not supported");
}

TEST_CASE("http: 2,000 headers fail with 431 without buffering them all", "[http]") {
  std::string input = "GET /ws HTTP/1.1\r\n";
  for (int i = 0; i < 2000; ++i) input += "X-" + std::to_string(i) + ": v\r\n";
  input += "\r\n";
  CHECK(errorOf(input) == 431);

  // With a large byte limit the header count trips, as soon as header 65 is complete.
  const HttpLimits roomy{1 << 20, 64};
  HttpRequestParser parser(roomy);
  std::string head = "GET /ws HTTP/1.1\r\nHost: h\r\n";
  for (int i = 1; i < 64; ++i) head += "X-" + std::to_string(i) + ": v\r\n";
  REQUIRE(parser.consume(head).status == Status::NeedMore);
  const auto r = parser.consume("X-65: v\r\n");
  REQUIRE(r.status == Status::Error);
  CHECK(parser.errorStatus() == 431);
  CHECK(std::string(parser.errorReason()) == "too many headers");

  // Exactly maxHeaders is fine.
  HttpRequestParser exact(roomy);
  CHECK(exact.consume(head + "\r\n").status == Status::Done);
  CHECK(exact.request().headers.size() == 64);

  // Fed line by line, the 2,000-header request also fails at header 65.
  HttpRequestParser lines(roomy);
  size_t fed = 0, from = 0;
  Status last = Status::NeedMore;
  while (last == Status::NeedMore && from < input.size()) {
    const size_t end = input.find("\r\n", from) + 2;
    last = lines.consume(std::string_view(input).substr(from, end - from)).status;
    from = end;
    ++fed;
  }
  CHECK(last == Status::Error);
  CHECK(lines.errorStatus() == 431);
  CHECK(fed == 1 + 65);
}

TEST_CASE("http: a 64 KiB header line fails with 431 once the limit is crossed", "[http]") {
  const std::string start = "GET /ws HTTP/1.1\r\nX-Big: ";
  const std::string big(64 * 1024, 'a');
  CHECK(errorOf(start + big + "\r\n\r\n") == 431);

  // Streamed in 1 KiB chunks: the error comes at the chunk that crosses 8,192 bytes, not at the end.
  HttpRequestParser parser;
  REQUIRE(parser.consume(start).status == Status::NeedMore);
  size_t chunks = 0;
  Status s = Status::NeedMore;
  for (size_t off = 0; off < big.size() && s == Status::NeedMore; off += 1024) {
    s = parser.consume(std::string_view(big).substr(off, 1024)).status;
    ++chunks;
  }
  CHECK(s == Status::Error);
  CHECK(parser.errorStatus() == 431);
  CHECK(chunks == 8);  // 25 + 7 * 1024 < 8192 < 25 + 8 * 1024
}

TEST_CASE("http: head size limit is exact", "[http]") {
  const std::string base = "GET / HTTP/1.0\r\nX: ";
  const HttpLimits limits{64, 64};
  const std::string fits = base + std::string(64 - base.size() - 4, 'v') + "\r\n\r\n";
  REQUIRE(fits.size() == 64);
  CHECK(feedWhole(fits, limits).status == Status::Done);
  const std::string over = base + std::string(64 - base.size() - 3, 'v') + "\r\n\r\n";
  CHECK(errorOf(over, limits) == 431);
  // The exact-fit head followed by other bytes is still Done.
  const Outcome o = feedWhole(fits + "extra bytes", limits);
  CHECK(o.status == Status::Done);
  CHECK(o.consumed == 64);
  // Split at every offset, the verdicts stay the same.
  for (size_t cut = 0; cut <= over.size(); ++cut) {
    INFO("cut " << cut);
    CHECK(feed(fits, {cut}, limits).status == Status::Done);
    const Outcome bad = feed(over, {cut}, limits);
    CHECK(bad.status == Status::Error);
    CHECK(bad.errorStatus == 431);
  }
}

TEST_CASE("http: errors are sticky until reset", "[http]") {
  HttpRequestParser parser;
  REQUIRE(parser.consume("BAD LINE\r\n").status == Status::Error);
  const auto again = parser.consume("GET / HTTP/1.1\r\n\r\n");
  CHECK(again.status == Status::Error);
  CHECK(again.consumed == 0);
  CHECK(parser.errorStatus() == 400);
}

TEST_CASE("http: HTTP/1.1 needs exactly one valid Host header (RFC 9112 3.2)", "[http]") {
  auto withHost = [](const std::string& hostLines, const char* version = "HTTP/1.1") {
    return feedWhole(std::string("GET / ") + version + "\r\n" + hostLines + "X: y\r\n\r\n");
  };
  // Missing, repeated or invalid: 400 with a reason.
  for (const char* bad : {"", "Host: a\r\nHost: a\r\n", "Host: a\r\nhost: b\r\n", "Host: a b\r\n", "Host: a@b\r\n",
                          "Host: a/b\r\n", "Host: h:80x\r\n", "Host: [::1\r\n", "Host: [::1]x\r\n", "Host: h\"\r\n",
                          "Host: \xC3\xA9\r\n"}) {
    INFO(bad);
    const Outcome o = withHost(bad);
    CHECK(o.status == Status::Error);
    CHECK(o.errorStatus == 400);
  }
  HttpRequestParser parser;
  REQUIRE(parser.consume("GET / HTTP/1.1\r\n\r\n").status == Status::Error);
  CHECK(std::string(parser.errorReason()) == "missing Host header");
  // Valid ones (an empty value is allowed: RFC 9110 7.2).
  for (const char* good : {"Host: chat.example.com\r\n", "Host: 127.0.0.1:8080\r\n", "HOST: h\r\n", "Host: [::1]:8080\r\n",
                           "Host: [::1]\r\n", "Host:\r\n", "Host: h:\r\n", "Host: xn--bcher-kva.example\r\n",
                           "Host: a_b-c~d%41!$&'()*+,;=\r\n"}) {
    INFO(good);
    CHECK(withHost(good).status == Status::Done);
  }
  // HTTP/1.0 may leave Host out, but not repeat it.
  CHECK(withHost("", "HTTP/1.0").status == Status::Done);
  CHECK(withHost("Host: a\r\nHost: a\r\n", "HTTP/1.0").errorStatus == 400);
}
