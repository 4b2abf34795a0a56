#include "broadcast/peer_auth.h"

#include "common/z85.h"

namespace webim::hub {

namespace {

constexpr size_t kKeyBytes = 32;
constexpr size_t kKeyChars = 40;

bool blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c);
  return out;
}

}  // namespace

std::optional<AllowList> AllowList::parse(std::string_view text, std::string& error) {
  AllowList list;
  size_t lineNo = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++lineNo;
    if (line.empty()) continue;
    size_t tokenEnd = 0;
    while (tokenEnd < line.size() && !blank(line[tokenEnd])) ++tokenEnd;
    const std::string_view token = line.substr(0, tokenEnd);
    const std::string_view rest = trim(line.substr(tokenEnd));
    std::optional<std::string> key = token.size() == kKeyChars ? z85Decode(token) : std::nullopt;
    if (key && (rest.empty() || rest.front() == '#')) {
      list.keys_.insert(std::move(*key));
      continue;
    }
    if (line.front() == '#') continue;
    error = "line " + std::to_string(lineNo) + ": not a 40-character Z85 public key (the .pub file of " +
            "webim-broadcast keygen), nor a # comment";
    return std::nullopt;
  }
  if (list.keys_.empty()) {
    error = "holds no key";
    return std::nullopt;
  }
  return list;
}

std::optional<ZapRequest> decodeZapRequest(const std::vector<std::string_view>& frames, std::string& error,
                                           std::string& requestIdOut) {
  requestIdOut.clear();
  if (frames.size() >= 2) requestIdOut = std::string(frames[1]);
  if (frames.size() < 6) {
    error = "a ZAP request has at least 6 frames, got " + std::to_string(frames.size());
    return std::nullopt;
  }
  if (frames[0] != "1.0") {
    error = "ZAP version '" + printable(frames[0]) + "', expected 1.0";
    return std::nullopt;
  }
  ZapRequest r;
  r.version = frames[0];
  r.requestId = frames[1];
  r.domain = frames[2];
  r.address = frames[3];
  r.identity = frames[4];
  r.mechanism = frames[5];
  for (size_t i = 6; i < frames.size(); ++i) r.credentials.emplace_back(frames[i]);
  return r;
}

ZapDecision decideZap(const ZapRequest& request, const PeerLists& lists) {
  ZapDecision d;
  auto refuse = [&d](std::string text) {
    d.statusCode = "400";
    d.statusText = std::move(text);
    return d;
  };
  if (request.mechanism == "CURVE" && request.credentials.size() == 1 && request.credentials[0].size() == kKeyBytes) {
    d.clientKey = z85Encode(request.credentials[0]).value_or("");
  }
  const AllowList* list = nullptr;
  if (request.domain == kZapDomainApp) {
    list = lists.apps.get();
  } else if (request.domain == kZapDomainIngress || request.domain == kZapDomainPub) {
    list = lists.frontends.get();
  } else {
    return refuse("unknown ZAP domain");
  }
  if (request.mechanism != "CURVE") return refuse("only CURVE clients are admitted");
  if (d.clientKey.empty()) return refuse("malformed CURVE credentials");
  if (list != nullptr && !list->contains(request.credentials[0])) return refuse("client key not allowed");
  d.admitted = true;
  d.statusCode = "200";
  d.statusText = "OK";
  d.userId = d.clientKey;
  return d;
}

std::vector<std::string> encodeZapReply(std::string_view requestId, const ZapDecision& decision) {
  return {"1.0", std::string(requestId), decision.statusCode, decision.statusText, decision.userId, ""};
}

std::string RefusalLog::line(std::string_view what) {
  std::string out(what);
  if (held_ > 0) {
    out += " (and " + std::to_string(held_) + " more refused since the previous line, the last: " + lastHeld_ + ")";
  }
  held_ = 0;
  lastHeld_.clear();
  return out;
}

std::optional<std::string> RefusalLog::refused(Clock::time_point now, std::string_view what) {
  if (!any_ || now >= nextLine_) {
    any_ = true;
    nextLine_ = now + interval_;
    return line(what);
  }
  ++held_;
  lastHeld_ = what;
  return std::nullopt;
}

std::optional<std::string> RefusalLog::flush(Clock::time_point now) {
  if (held_ == 0 || now < nextLine_) return std::nullopt;
  nextLine_ = now + interval_;
  std::string out = std::to_string(held_) + " more refused since the previous line, the last: " + lastHeld_;
  held_ = 0;
  lastHeld_.clear();
  return out;
}

}  // namespace webim::hub
