// libFuzzer target: HttpRequestParser (the upgrade request head) and, for heads it accepts,
// acceptWebSocket (the RFC 6455 handshake check and response).
//
// The input is what a client sends before the WebSocket stream (a head, maybe followed by frame
// bytes). It is fed whole, one byte per call, and in chunks cut at input-derived offsets; the outcome
// (status, error status, bytes consumed, parsed request) must not depend on the split. A parser with
// small limits must agree with the default one whenever it accepts. Accepted heads are checked
// against the grammar promised in http_request_parser.h, and then handed to the handshake.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/http_request_parser.h"
#include "common/websocket_handshake.h"
#include "tests/fuzz/fuzz_support.h"

using namespace webim;

namespace {

using Status = HttpRequestParser::Status;

const HttpLimits kSmallLimits{/*maxHeadBytes=*/256, /*maxHeaders=*/4};

struct Outcome {
  Status status = Status::NeedMore;
  int errorStatus = 0;
  size_t consumed = 0;  // total bytes consumed up to Done (only compared on Done)
  std::vector<std::string> fields;  // method, target, version, then name/value pairs
  bool operator==(const Outcome&) const = default;
};

bool isTokenChar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!isTokenChar(c)) return false;
  }
  return true;
}

void checkRequest(const HttpRequest& r, const HttpLimits& limits, size_t consumedHead) {
  FUZZ_CHECK(consumedHead <= limits.maxHeadBytes);
  FUZZ_CHECK(isToken(r.method));
  FUZZ_CHECK(!r.target.empty());
  for (char c : r.target) FUZZ_CHECK(static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7F);
  FUZZ_CHECK(r.version == "HTTP/1.1" || r.version == "HTTP/1.0");
  FUZZ_CHECK(r.headers.size() <= limits.maxHeaders);
  // RFC 9112 3.2: one Host at most, exactly one in HTTP/1.1.
  FUZZ_CHECK(r.headerCount("Host") <= 1);
  if (r.version == "HTTP/1.1") FUZZ_CHECK(r.headerCount("Host") == 1);
  for (const HttpHeader& h : r.headers) {
    FUZZ_CHECK(isToken(h.name));
    if (!h.value.empty()) {
      FUZZ_CHECK(h.value.front() != ' ' && h.value.front() != '\t');
      FUZZ_CHECK(h.value.back() != ' ' && h.value.back() != '\t');
    }
    for (char c : h.value) {
      const auto u = static_cast<unsigned char>(c);
      FUZZ_CHECK(u == '\t' || (u >= 0x20 && u != 0x7F));  // no CR, LF, NUL or other controls
    }
    // Lookup is case-insensitive and returns the first header with the name.
    const auto found = r.header(h.name);
    FUZZ_CHECK(found.has_value());
    FUZZ_CHECK(r.headerCount(h.name) >= 1);
    size_t first = 0;
    while (!equalsIgnoreCase(r.headers[first].name, h.name)) ++first;
    FUZZ_CHECK(found->data() == r.headers[first].value.data());
  }
  const std::string_view path = r.path();
  FUZZ_CHECK(path == "/" || (path.data() >= r.target.data() && path.data() + path.size() <= r.target.data() + r.target.size()));
  FUZZ_CHECK(path.find_first_of("?#") == std::string_view::npos);
}

Outcome feed(HttpRequestParser& parser, const std::vector<std::string_view>& chunks, const HttpLimits& limits) {
  Outcome out;
  for (std::string_view chunk : chunks) {
    const auto r = parser.consume(chunk);
    out.status = r.status;
    if (r.status == Status::NeedMore) {
      FUZZ_CHECK(r.consumed == chunk.size());
      out.consumed += r.consumed;
      continue;
    }
    if (r.status == Status::Done) {
      FUZZ_CHECK(r.consumed <= chunk.size());
      out.consumed += r.consumed;
    }
    break;
  }
  if (out.status == Status::Error) {
    out.errorStatus = parser.errorStatus();
    FUZZ_CHECK(out.errorStatus == 400 || out.errorStatus == 431 || out.errorStatus == 505);
    FUZZ_CHECK(parser.errorReason() != nullptr && parser.errorReason()[0] != '\0');
    out.consumed = 0;  // not meaningful on Error
  }
  if (out.status == Status::Done) {
    const HttpRequest& r = parser.request();
    checkRequest(r, limits, out.consumed);
    out.fields = {std::string(r.method), std::string(r.target), std::string(r.version)};
    for (const HttpHeader& h : r.headers) {
      out.fields.emplace_back(h.name);
      out.fields.emplace_back(h.value);
    }
  }
  if (out.status != Status::NeedMore) {
    // Sticky until reset(): same status, nothing consumed.
    const auto again = parser.consume("GET / HTTP/1.1\r\n\r\n");
    FUZZ_CHECK(again.status == out.status && again.consumed == 0);
  }
  return out;
}

void checkHandshake(const HttpRequest& request) {
  HandshakePolicy policy;
  policy.allowedOrigins = {"https://example.com"};
  const HandshakeResult result = acceptWebSocket(request, policy);
  const int s = result.status;
  FUZZ_CHECK(s == 101 || s == 400 || s == 403 || s == 405 || s == 426);
  FUZZ_CHECK(result.response.rfind("HTTP/1.1 " + std::to_string(s) + " ", 0) == 0);
  FUZZ_CHECK(result.response.find("\r\n\r\n") != std::string::npos);
  if (s == 101) {
    FUZZ_CHECK(request.method == "GET");
    const auto key = request.header("Sec-WebSocket-Key");
    FUZZ_CHECK(key.has_value() && request.headerCount("Sec-WebSocket-Key") == 1);
    FUZZ_CHECK(result.response.find("Sec-WebSocket-Accept: " + computeAcceptKey(*key) + "\r\n") != std::string::npos);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = fuzz::asView(data, size);
  const HttpLimits defaults;

  HttpRequestParser whole;
  const Outcome expected = feed(whole, {input}, defaults);
  if (expected.status == Status::Done) checkHandshake(whole.request());

  HttpRequestParser bytewise;
  FUZZ_CHECK(feed(bytewise, fuzz::splitEveryByte(input), defaults) == expected);

  HttpRequestParser chunked;
  FUZZ_CHECK(feed(chunked, fuzz::splitAtDerivedOffsets(input), defaults) == expected);
  // reset() makes a used parser as good as new.
  chunked.reset();
  FUZZ_CHECK(feed(chunked, fuzz::splitAtDerivedOffsets(input), defaults) == expected);

  // Tighter limits may refuse (431) but must never accept something different.
  HttpRequestParser small(kSmallLimits);
  const Outcome tight = feed(small, fuzz::splitAtDerivedOffsets(input), kSmallLimits);
  if (tight.status == Status::Done) FUZZ_CHECK(tight == expected);
  if (expected.status == Status::Error && expected.errorStatus != 431) {
    FUZZ_CHECK(tight.status == Status::Error);
  }
  return 0;
}
