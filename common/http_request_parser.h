// Strict, bounded HTTP/1.1 request-head parser for the WebSocket upgrade and the small HTTP endpoints.
// Hand-written on purpose (docs/architecture.md, "Libraries before hand-written code"): it is
// small, copies only a bounded head, and is fuzzed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace webim {

struct HttpLimits {
  size_t maxHeadBytes = 8192;  // request line + headers + final CRLF
  size_t maxHeaders = 64;
};

struct HttpHeader {
  std::string_view name;
  std::string_view value;  // OWS trimmed
};  // views into the parser's buffer

struct HttpRequest {
  std::string_view method, target, version;  // e.g. "GET", "/ws?x=1", "HTTP/1.1"
  std::vector<HttpHeader> headers;
  // Case-insensitive lookup of the first header with this name; empty optional when absent.
  std::optional<std::string_view> header(std::string_view name) const;
  // Number of headers with this name (case-insensitive); lets callers reject duplicated singletons.
  size_t headerCount(std::string_view name) const;
  // Target without the query string; for an absolute-form target ("http://h/p?q") the path part ("/p").
  std::string_view path() const;
};

// ASCII case-insensitive equality (header names, tokens).
bool equalsIgnoreCase(std::string_view a, std::string_view b) noexcept;

// Push-style parser for one HTTP/1.1 request head (request line + headers up to CRLFCRLF).
// Bytes may arrive split at any offset. It copies only the head (bounded by maxHeadBytes).
//
// Strictness (RFC 9112): request line `METHOD SP TARGET SP HTTP/d.d CRLF`; header `name: value` with a
// token name, no whitespace before the colon, OWS trimmed around the value; obs-fold, bare CR, bare LF,
// NUL and other control characters (except HTAB inside values) are rejected. Limits are enforced as
// bytes arrive: at most maxHeadBytes are ever buffered and the header count is checked line by line.
// Host (RFC 9112 3.2): an HTTP/1.1 request needs exactly one, any request at most one, and its value
// must be uri-host[:port] (RFC 9110 7.2; empty allowed); else 400.
class HttpRequestParser {
 public:
  enum class Status { NeedMore, Done, Error };
  // consumed: bytes of `bytes` used (on Done, the rest belongs to the next protocol). On Error the
  // connection should get errorStatus() and be closed; consumed is then not meaningful.
  struct Result {
    Status status;
    size_t consumed;
  };

  explicit HttpRequestParser(HttpLimits limits = {});
  // Copying would leave the request's views pointing into the source's buffer.
  HttpRequestParser(const HttpRequestParser&) = delete;
  HttpRequestParser& operator=(const HttpRequestParser&) = delete;

  // After Done or Error, further calls return the same status and consume nothing until reset().
  Result consume(std::string_view bytes);
  const HttpRequest& request() const;  // valid after Done, until reset()/destruction
  // After Error: 400 (malformed), 431 (head too large / too many headers), 505 (not HTTP/1.1 or 1.0).
  int errorStatus() const;
  const char* errorReason() const;  // short human text for logs
  void reset();

 private:
  struct HeaderOffsets {
    size_t nameBegin, nameEnd, valueBegin, valueEnd;
  };

  Status fail(int status, const char* reason);
  // Validates one complete line head_[begin, end) (CRLF excluded) and records its offsets.
  bool parseRequestLine(size_t begin, size_t end);
  bool parseHeaderLine(size_t begin, size_t end);
  void buildRequest();
  bool checkHost();  // after buildRequest(); false (failed with 400) for a missing, repeated or bad Host

  HttpLimits limits_;
  std::string head_;        // the head bytes seen so far, never more than maxHeadBytes
  size_t scanned_ = 0;      // bytes of head_ already run through the line scanner
  size_t lineBegin_ = 0;    // start of the current (incomplete) line in head_
  bool sawRequestLine_ = false;
  Status status_ = Status::NeedMore;
  int errorStatus_ = 0;
  const char* errorReason_ = "";
  size_t methodEnd_ = 0, targetBegin_ = 0, targetEnd_ = 0, versionBegin_ = 0, versionEnd_ = 0;
  std::vector<HeaderOffsets> headerOffsets_;
  HttpRequest request_;
};

}  // namespace webim
