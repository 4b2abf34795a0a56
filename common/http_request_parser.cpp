#include "common/http_request_parser.h"

#include <algorithm>

namespace webim {
namespace {

constexpr int kBadRequest = 400;
constexpr int kHeadTooLarge = 431;  // Request Header Fields Too Large
constexpr int kVersionNotSupported = 505;

constexpr char kCr = '\r';
constexpr char kLf = '\n';

char lowerAscii(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool isDigit(char c) noexcept { return c >= '0' && c <= '9'; }
bool isAlpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// tchar (RFC 9110 5.6.2).
bool isTokenChar(char c) noexcept {
  if (isDigit(c) || isAlpha(c)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

// Control characters are never valid in a head; HTAB is allowed (only inside header values, which
// the line parsers check). Bytes >= 0x80 are obs-text: allowed in values, rejected elsewhere.
bool isForbiddenControl(unsigned char c) noexcept { return (c < 0x20 && c != '\t') || c == 0x7F; }

bool isVisibleAscii(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7F;
}

bool isOws(char c) noexcept { return c == ' ' || c == '\t'; }

// Accepts origin-form ("/p?q"), asterisk-form ("*") and absolute-form ("http://h/p"). RFC 9112 3.2
// requires servers to accept absolute-form; authority-form is only for CONNECT, which we do not serve.
bool isAcceptedTargetForm(std::string_view target) noexcept {
  if (target.front() == '/') return true;
  if (target == "*") return true;
  if (!isAlpha(target.front())) return false;
  size_t i = 1;
  while (i < target.size() && (isAlpha(target[i]) || isDigit(target[i]) || target[i] == '+' ||
                               target[i] == '-' || target[i] == '.')) {
    ++i;
  }
  return target.substr(i, 3) == "://" && target.size() > i + 3;
}

bool isHexDigit(char c) noexcept { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// A Host header's value (RFC 9110 7.2): uri-host [ ":" port ], where uri-host is an IP literal in
// brackets or a reg-name (unreserved, pct-encoded and sub-delims characters; an IPv4 address is one
// too) and port is *DIGIT. Empty is allowed (a target URI without authority).
bool isValidHostValue(std::string_view host) noexcept {
  size_t i = 0;
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (char c : host.substr(1, close - 1)) {
      if (!isHexDigit(c) && c != ':' && c != '.') return false;
    }
    i = close + 1;
  } else {
    for (; i < host.size() && host[i] != ':'; ++i) {
      const char c = host[i];
      if (!isAlpha(c) && !isDigit(c) && std::string_view("-._~%!$&'()*+,;=").find(c) == std::string_view::npos) {
        return false;
      }
    }
  }
  if (i == host.size()) return true;
  if (host[i] != ':') return false;
  for (char c : host.substr(i + 1)) {
    if (!isDigit(c)) return false;
  }
  return true;
}

}  // namespace

bool equalsIgnoreCase(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lowerAscii(a[i]) != lowerAscii(b[i])) return false;
  }
  return true;
}

std::optional<std::string_view> HttpRequest::header(std::string_view name) const {
  for (const HttpHeader& h : headers) {
    if (equalsIgnoreCase(h.name, name)) return h.value;
  }
  return std::nullopt;
}

size_t HttpRequest::headerCount(std::string_view name) const {
  return static_cast<size_t>(
      std::count_if(headers.begin(), headers.end(), [&](const HttpHeader& h) { return equalsIgnoreCase(h.name, name); }));
}

std::string_view HttpRequest::path() const {
  std::string_view p = target;
  if (const size_t scheme = p.find("://"); !p.empty() && p.front() != '/' && scheme != std::string_view::npos) {
    // absolute-form: drop "scheme://authority"; an empty path means "/".
    p.remove_prefix(scheme + 3);
    const size_t slash = p.find_first_of("/?#");
    if (slash == std::string_view::npos || p[slash] != '/') return "/";
    p.remove_prefix(slash);
  }
  return p.substr(0, p.find_first_of("?#"));
}

HttpRequestParser::HttpRequestParser(HttpLimits limits) : limits_(limits) {}

HttpRequestParser::Status HttpRequestParser::fail(int status, const char* reason) {
  status_ = Status::Error;
  errorStatus_ = status;
  errorReason_ = reason;
  return status_;
}

HttpRequestParser::Result HttpRequestParser::consume(std::string_view bytes) {
  if (status_ != Status::NeedMore) return {status_, 0};
  const size_t before = head_.size();
  // Never buffer beyond the limit: a head that needs more than maxHeadBytes fails with 431 as soon as
  // the limit is crossed, however large the offending line or header count is.
  const size_t budget = limits_.maxHeadBytes > before ? limits_.maxHeadBytes - before : 0;
  const size_t take = std::min(bytes.size(), budget);
  head_.append(bytes.data(), take);

  for (size_t i = scanned_; i < head_.size(); ++i) {
    const char c = head_[i];
    const bool afterCr = i > lineBegin_ && head_[i - 1] == kCr;
    if (c == kLf) {
      if (!afterCr) return {fail(kBadRequest, "bare LF"), 0};
      const size_t lineEnd = i - 1;
      const size_t lineBegin = lineBegin_;
      lineBegin_ = i + 1;
      if (lineBegin == lineEnd) {
        if (!sawRequestLine_) return {fail(kBadRequest, "empty request line"), 0};
        head_.resize(i + 1);  // drop bytes of the next protocol appended with this chunk
        scanned_ = head_.size();
        buildRequest();
        if (!checkHost()) return {status_, 0};
        status_ = Status::Done;
        return {status_, i + 1 - before};
      }
      if (!sawRequestLine_) {
        if (!parseRequestLine(lineBegin, lineEnd)) return {status_, 0};
        sawRequestLine_ = true;
      } else if (!parseHeaderLine(lineBegin, lineEnd)) {
        return {status_, 0};
      }
      continue;
    }
    if (afterCr) return {fail(kBadRequest, "bare CR"), 0};
    if (c != kCr && isForbiddenControl(static_cast<unsigned char>(c))) {
      return {fail(kBadRequest, "control character in head"), 0};
    }
  }
  scanned_ = head_.size();
  if (take < bytes.size() || head_.size() >= limits_.maxHeadBytes) {
    return {fail(kHeadTooLarge, "request head too large"), 0};
  }
  return {Status::NeedMore, bytes.size()};
}

bool HttpRequestParser::parseRequestLine(size_t begin, size_t end) {
  const std::string_view line(head_.data() + begin, end - begin);
  size_t i = 0;
  while (i < line.size() && isTokenChar(line[i])) ++i;
  if (i == 0 || i >= line.size() || line[i] != ' ') {
    fail(kBadRequest, "malformed method");
    return false;
  }
  const size_t methodEnd = i++;
  const size_t targetBegin = i;
  while (i < line.size() && isVisibleAscii(line[i])) ++i;
  if (i == targetBegin || i >= line.size() || line[i] != ' ') {
    fail(kBadRequest, "malformed request target");
    return false;
  }
  const size_t targetEnd = i++;
  if (!isAcceptedTargetForm(line.substr(targetBegin, targetEnd - targetBegin))) {
    fail(kBadRequest, "unsupported request target form");
    return false;
  }
  const std::string_view version = line.substr(i);
  // HTTP-version = "HTTP/" DIGIT "." DIGIT; anything else (extra spaces, lower case) is malformed.
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !isDigit(version[5]) || version[6] != '.' ||
      !isDigit(version[7])) {
    fail(kBadRequest, "malformed HTTP version");
    return false;
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    fail(kVersionNotSupported, "HTTP version not supported");
    return false;
  }
  methodEnd_ = begin + methodEnd;
  targetBegin_ = begin + targetBegin;
  targetEnd_ = begin + targetEnd;
  versionBegin_ = begin + i;
  versionEnd_ = end;
  return true;
}

bool HttpRequestParser::parseHeaderLine(size_t begin, size_t end) {
  if (headerOffsets_.size() >= limits_.maxHeaders) {
    fail(kHeadTooLarge, "too many headers");
    return false;
  }
  const std::string_view line(head_.data() + begin, end - begin);
  if (isOws(line.front())) {
    fail(kBadRequest, "obsolete line folding");  // RFC 9112 5.2: reject, or replace with SP; we reject
    return false;
  }
  size_t i = 0;
  while (i < line.size() && isTokenChar(line[i])) ++i;
  if (i == 0 || i >= line.size() || line[i] != ':') {
    fail(kBadRequest, "malformed header name");  // also whitespace before the colon (RFC 9112 5.1)
    return false;
  }
  const size_t nameEnd = i++;
  size_t valueBegin = i;
  size_t valueEnd = line.size();
  while (valueBegin < valueEnd && isOws(line[valueBegin])) ++valueBegin;
  while (valueEnd > valueBegin && isOws(line[valueEnd - 1])) --valueEnd;
  headerOffsets_.push_back({begin, begin + nameEnd, begin + valueBegin, begin + valueEnd});
  return true;
}

void HttpRequestParser::buildRequest() {
  // Views are built only now: head_ no longer grows, so they stay valid until reset().
  const std::string_view head(head_);
  request_.method = head.substr(0, methodEnd_);
  request_.target = head.substr(targetBegin_, targetEnd_ - targetBegin_);
  request_.version = head.substr(versionBegin_, versionEnd_ - versionBegin_);
  request_.headers.clear();
  request_.headers.reserve(headerOffsets_.size());
  for (const HeaderOffsets& h : headerOffsets_) {
    request_.headers.push_back({head.substr(h.nameBegin, h.nameEnd - h.nameBegin),
                                head.substr(h.valueBegin, h.valueEnd - h.valueBegin)});
  }
  headerOffsets_.clear();
  headerOffsets_.shrink_to_fit();
}

// RFC 9112 3.2: a 400 for an HTTP/1.1 request without Host, and for any request with more than one
// Host or an invalid one.
bool HttpRequestParser::checkHost() {
  const size_t count = request_.headerCount("Host");
  if (count == 0 && request_.version == "HTTP/1.1") {
    fail(kBadRequest, "missing Host header");
  } else if (count > 1) {
    fail(kBadRequest, "more than one Host header");
  } else if (count == 1 && !isValidHostValue(*request_.header("Host"))) {
    fail(kBadRequest, "invalid Host header");
  } else {
    return true;
  }
  request_ = HttpRequest{};
  return false;
}

const HttpRequest& HttpRequestParser::request() const { return request_; }

int HttpRequestParser::errorStatus() const { return errorStatus_; }

const char* HttpRequestParser::errorReason() const { return errorReason_; }

void HttpRequestParser::reset() {
  // Release memory too: a parser may sit in a connection object long after its handshake.
  std::string().swap(head_);
  std::vector<HeaderOffsets>().swap(headerOffsets_);
  request_ = HttpRequest{};
  scanned_ = 0;
  lineBegin_ = 0;
  sawRequestLine_ = false;
  status_ = Status::NeedMore;
  errorStatus_ = 0;
  errorReason_ = "";
  methodEnd_ = targetBegin_ = targetEnd_ = versionBegin_ = versionEnd_ = 0;
}

}  // namespace webim
