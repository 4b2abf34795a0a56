#include "broadcast/retention.h"

#include <algorithm>
#include <charconv>

namespace webim::hub {

namespace {

constexpr int64_t kMsPerSecond = 1000;
constexpr int64_t kMaxAgeMs = INT64_MAX / 4;  // far beyond any clock, no overflow in now - age

std::optional<uint64_t> parseUnsigned(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

bool validPattern(std::string_view p) {
  if (p.empty() || p.size() > 129) return false;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '*') {
      if (i + 1 != p.size()) return false;  // only as the last character
      continue;
    }
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

const std::vector<std::string>& defaultRetentionRules() {
  static const std::vector<std::string> rules = {
      "room:*=10000/30d",  // group chats
      "dm:*=10000/365d",   // direct conversations: longer
      "user:*=1000/30d",   // personal inboxes (notifications)
      "pub:*=1000/30d",    // app broadcasts
      "*=10000/30d",       // anything else
  };
  return rules;
}

std::optional<int64_t> parseRetentionAge(std::string_view text) {
  if (text.size() < 2) return std::nullopt;
  int64_t unitMs = 0;
  switch (text.back()) {
    case 's': unitMs = kMsPerSecond; break;
    case 'm': unitMs = 60 * kMsPerSecond; break;
    case 'h': unitMs = 3600 * kMsPerSecond; break;
    case 'd': unitMs = 86400 * kMsPerSecond; break;
    default: return std::nullopt;
  }
  auto n = parseUnsigned(text.substr(0, text.size() - 1));
  if (!n || *n == 0 || *n > static_cast<uint64_t>(kMaxAgeMs / unitMs)) return std::nullopt;
  return static_cast<int64_t>(*n) * unitMs;
}

std::optional<RetentionRule> parseRetentionRule(std::string_view text, std::string& error) {
  const std::string quoted = "'" + std::string(text) + "'";
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos) {
    error = quoted + " is not PATTERN=COUNT/AGE (e.g. \"room:*=10000/30d\")";
    return std::nullopt;
  }
  RetentionRule rule;
  rule.pattern = std::string(text.substr(0, eq));
  if (!validPattern(rule.pattern)) {
    error = quoted + ": pattern must be a channel name or a prefix ending in '*'";
    return std::nullopt;
  }
  const std::string_view limits = text.substr(eq + 1);
  const size_t slash = limits.find('/');
  if (slash == std::string_view::npos) {
    error = quoted + " is not PATTERN=COUNT/AGE (COUNT and AGE may be '-' for no limit)";
    return std::nullopt;
  }
  const std::string_view count = limits.substr(0, slash), age = limits.substr(slash + 1);
  if (count != "-") {
    auto n = parseUnsigned(count);
    if (!n || *n == 0 || *n == UINT64_MAX) {
      error = quoted + ": COUNT must be a positive integer or '-'";
      return std::nullopt;
    }
    rule.keepLast = *n;
  }
  if (age != "-") {
    auto ms = parseRetentionAge(age);
    if (!ms) {
      error = quoted + ": AGE must be a positive integer with a unit s|m|h|d (\"30d\") or '-'";
      return std::nullopt;
    }
    rule.maxAgeMs = *ms;
  }
  return rule;
}

std::string RetentionPolicy::parse(const std::vector<std::string>& rules) {
  std::vector<RetentionRule> parsed;
  for (const std::string& text : rules) {
    std::string error;
    auto rule = parseRetentionRule(text, error);
    if (!rule) return error;
    for (const RetentionRule& r : parsed)
      if (r.pattern == rule->pattern) return "'" + text + "': pattern " + r.pattern + " given twice";
    parsed.push_back(std::move(*rule));
  }
  rules_ = std::move(parsed);
  return {};
}

const RetentionRule* RetentionPolicy::match(std::string_view channel) const {
  const RetentionRule* best = nullptr;
  size_t bestLength = 0;
  for (const RetentionRule& r : rules_) {
    const std::string_view p = r.pattern;
    if (p.back() != '*') {
      if (p == channel) return &r;  // an exact name wins outright
      continue;
    }
    const std::string_view prefix = p.substr(0, p.size() - 1);
    if (channel.substr(0, prefix.size()) != prefix) continue;
    if (!best || prefix.size() > bestLength) {
      best = &r;
      bestLength = prefix.size();
    }
  }
  return best;
}

RetentionSweeper::RetentionSweeper(HistoryStore& store, const RetentionPolicy& policy, Options options)
    : store_(store), policy_(policy), options_(options) {}

void RetentionSweeper::step(std::chrono::steady_clock::time_point now, int64_t nowMs) {
  if (policy_.empty() || now < retryAt_) return;
  try {
    slice(now, nowMs);
  } catch (const HistoryStoreError&) {
    retryAt_ = now + options_.retryDelay;
    throw;
  }
}

void RetentionSweeper::slice(std::chrono::steady_clock::time_point now, int64_t nowMs) {
  if (!active_) {
    if (now < nextPass_) return;
    active_ = true;
    nextPass_ = now + options_.interval;
    cursor_.clear();
    pending_.clear();
    current_ = {};
  }
  if (pending_.empty()) {
    pending_ = store_.listChannels(cursor_, options_.channelsPerStep);
    std::reverse(pending_.begin(), pending_.end());  // pop from the back in ascending order
    if (pending_.empty()) {
      active_ = false;
      lastPass_ = current_;
      ++passes_;
      return;
    }
  }
  // At most channelsPerStep trims per step; a channel with more to delete stays at the back.
  for (size_t i = 0; i < options_.channelsPerStep && !pending_.empty(); ++i) {
    const std::string& channel = pending_.back();
    TrimResult result;
    if (const RetentionRule* rule = policy_.match(channel)) {
      TrimRequest request;
      request.keepLast = rule->keepLast;
      if (rule->maxAgeMs > 0) request.minTsMs = nowMs - rule->maxAgeMs;
      request.maxDeletes = options_.deletesPerChannel;
      if (durable_) {
        if (std::optional<ChannelMeta> durable = durable_(channel)) request.durableLast = durable->lastSeq;
      }
      if (request.keepLast != UINT64_MAX || request.minTsMs != INT64_MIN) result = store_.trimHistory(channel, request);
    }
    current_.deleted += result.deleted;
    if (result.more) continue;  // the same channel again (next iteration or next step)
    ++current_.channels;
    cursor_ = channel;
    pending_.pop_back();
  }
}

}  // namespace webim::hub
