// History retention: which messages of a channel are kept, by count and by age, per channel
// namespace; and the sweeper that applies it from the hub's loop in small slices.
//
// Config (hub TOML `retention`, an array of strings; or repeated `--retention` flags):
//   "PATTERN=COUNT/AGE"
//   PATTERN  an exact channel name, or a prefix ending in '*' ("room:*", "*" for every channel)
//   COUNT    the newest COUNT messages are kept (>= 1), or "-" for no count limit
//   AGE      messages older than AGE are deleted: an integer with a unit s|m|h|d ("30d", "12h"),
//            or "-" for no age limit
// A channel takes the most specific rule: an exact name first, then the longest prefix. A channel
// no rule matches keeps everything. An empty list (`retention = []`) disables retention.
// Retention never erases the channel's meta record (epoch, last seq) or any dedup record.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broadcast/history_store.h"

namespace webim::hub {

struct RetentionRule {
  std::string pattern;             // as written ("room:*")
  uint64_t keepLast = UINT64_MAX;  // UINT64_MAX: no count limit
  int64_t maxAgeMs = 0;            // 0: no age limit
  bool operator==(const RetentionRule&) const = default;
};

// The defaults when the config says nothing about retention.
const std::vector<std::string>& defaultRetentionRules();

// "30d" -> 2592000000; "-" is not a duration here. nullopt when malformed or not positive.
std::optional<int64_t> parseRetentionAge(std::string_view text);
// One "PATTERN=COUNT/AGE"; nullopt with `error` set when malformed.
std::optional<RetentionRule> parseRetentionRule(std::string_view text, std::string& error);

class RetentionPolicy {
 public:
  // Parses every rule; "" on success, else the first error (naming the rule). Duplicate patterns
  // are an error.
  std::string parse(const std::vector<std::string>& rules);
  // The rule for a channel (exact name beats the longest matching prefix), or nullptr.
  const RetentionRule* match(std::string_view channel) const;
  bool empty() const { return rules_.empty(); }

 private:
  std::vector<RetentionRule> rules_;
};

// Applies a policy to a store a slice at a time. The hub calls step() between batches whenever
// active() (a pass is running) or due(); one step lists at most `channelsPerStep` channels and
// trims each with at most `deletesPerChannel` deletions/scans, so it never stalls publishing.
// A new pass starts `interval` after the previous one started.
class RetentionSweeper {
 public:
  struct Options {
    std::chrono::milliseconds interval{60000};
    size_t channelsPerStep = 16;
    uint64_t deletesPerChannel = 1000;
    std::chrono::milliseconds retryDelay{1000};
  };
  struct PassStats {
    uint64_t channels = 0;
    uint64_t deleted = 0;
  };

  RetentionSweeper(HistoryStore& store, const RetentionPolicy& policy, Options options);
  // Where a channel's durable history ends when the store may already show more (a batch whose
  // sync is pending: the pipelined commit): TrimRequest::durableLast. nullopt: all of it is durable.
  using DurablePositions = std::function<std::optional<ChannelMeta>(const std::string& channel)>;
  void setDurablePositions(DurablePositions positions) { durable_ = std::move(positions); }

  bool due(std::chrono::steady_clock::time_point now) const {
    return !policy_.empty() && now >= retryAt_ && (active_ || now >= nextPass_);
  }
  bool active() const { return active_; }
  // One slice. nowMs: wall clock (message timestamps). Throws HistoryStoreError; the pass then
  // resumes at the same channel, not before retryDelay (a failed store is not hammered).
  void step(std::chrono::steady_clock::time_point now, int64_t nowMs);
  // Totals of the last finished pass (for logs and tests).
  const PassStats& lastPass() const { return lastPass_; }
  uint64_t passes() const { return passes_; }

 private:
  void slice(std::chrono::steady_clock::time_point now, int64_t nowMs);

  HistoryStore& store_;
  DurablePositions durable_;
  const RetentionPolicy& policy_;
  Options options_;
  bool active_ = false;
  std::chrono::steady_clock::time_point nextPass_{};
  std::chrono::steady_clock::time_point retryAt_{};  // after a store error
  std::string cursor_;                // last channel finished in the current pass
  std::vector<std::string> pending_;  // channels listed, not yet finished
  PassStats current_, lastPass_;
  uint64_t passes_ = 0;
};

}  // namespace webim::hub
