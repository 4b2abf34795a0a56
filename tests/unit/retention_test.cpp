// Retention rules (broadcast/retention.h): "PATTERN=COUNT/AGE" parsing, matching, and the sweeper's
// slicing against an in-memory store.
#include <catch2/catch.hpp>

#include <map>

#include "broadcast/retention.h"

using namespace webim::hub;

TEST_CASE("retention ages: integer with unit s|m|h|d", "[retention]") {
  CHECK(parseRetentionAge("45s") == 45000);
  CHECK(parseRetentionAge("90m") == 90LL * 60 * 1000);
  CHECK(parseRetentionAge("12h") == 12LL * 3600 * 1000);
  CHECK(parseRetentionAge("30d") == 30LL * 86400 * 1000);
  for (const char* bad : {"", "d", "30", "0d", "-1d", "1w", "1.5d", "d30", " 1d", "99999999999999999999d"})
    CHECK_FALSE(parseRetentionAge(bad));
}

TEST_CASE("retention rules: PATTERN=COUNT/AGE with '-' for no limit", "[retention]") {
  std::string error;
  CHECK(parseRetentionRule("room:*=10000/30d", error) == RetentionRule{"room:*", 10000, 30LL * 86400000});
  CHECK(parseRetentionRule("*=-/7d", error) == RetentionRule{"*", UINT64_MAX, 7LL * 86400000});
  CHECK(parseRetentionRule("dm:a:b=5/-", error) == RetentionRule{"dm:a:b", 5, 0});
  CHECK(parseRetentionRule("*=-/-", error) == RetentionRule{"*", UINT64_MAX, 0});
  for (const char* bad : {"room:*", "room:*=10", "room:*=0/1d", "room:*=x/1d", "room:*=10/30", "=10/1d",
                          "ro*m=1/1d", "room =1/1d", "room:*=10/1d/2", "room:*=-1/1d"}) {
    error.clear();
    CHECK_FALSE(parseRetentionRule(bad, error));
    CHECK_FALSE(error.empty());
  }
}

TEST_CASE("retention policy: exact name, then the longest prefix; no match keeps all", "[retention]") {
  RetentionPolicy policy;
  REQUIRE(policy.parse({"*=100/365d", "room:*=10/30d", "room:vip*=1000/-", "room:vip1=5/-"}).empty());
  CHECK(policy.match("room:7")->pattern == "room:*");
  CHECK(policy.match("room:vip9")->pattern == "room:vip*");
  CHECK(policy.match("room:vip1")->pattern == "room:vip1");
  CHECK(policy.match("user:1")->pattern == "*");
  RetentionPolicy narrow;
  REQUIRE(narrow.parse({"room:*=10/30d"}).empty());
  CHECK(narrow.match("user:1") == nullptr);
  CHECK(narrow.match("room:") != nullptr);
  RetentionPolicy none;
  REQUIRE(none.parse({}).empty());
  CHECK(none.empty());
  CHECK_THAT(RetentionPolicy().parse({"room:*=1/1d", "room:*=2/1d"}), Catch::Contains("twice"));
  CHECK_THAT(RetentionPolicy().parse({"room:*=1/1x"}), Catch::Contains("room:*=1/1x"));
  RetentionPolicy defaults;
  CHECK(defaults.parse(defaultRetentionRules()).empty());
  CHECK(defaults.match("room:1")->keepLast == 10000);
}

namespace {

// Channels and their messages' timestamps (seq = index + first).
class FakeStore final : public HistoryStore {
 public:
  struct Channel {
    uint64_t first = 1;
    std::vector<int64_t> ts;
  };
  std::map<std::string, Channel> channels;
  std::vector<std::string> trims;
  std::vector<uint64_t> durableLasts;  // TrimRequest::durableLast of each trim

  std::optional<ChannelMeta> loadMeta(std::string_view) override { return std::nullopt; }
  std::optional<DedupRecord> loadDedup(std::string_view, std::string_view) override { return std::nullopt; }
  void commit(const WriteSet&, bool) override {}
  HistoryPage readPage(std::string_view, const HistoryQuery&) override { return {}; }
  uint64_t countChannels() override { return channels.size(); }
  std::vector<std::string> listChannels(std::string_view after, size_t limit) override {
    std::vector<std::string> out;
    for (auto it = channels.upper_bound(std::string(after)); it != channels.end() && out.size() < limit; ++it)
      out.push_back(it->first);
    return out;
  }
  TrimResult trimHistory(std::string_view name, const TrimRequest& r) override {
    trims.emplace_back(name);
    durableLasts.push_back(r.durableLast);
    Channel& c = channels.at(std::string(name));
    TrimResult result;
    const uint64_t last = c.first + c.ts.size() - 1;
    while (!c.ts.empty() && result.deleted < r.maxDeletes &&
           ((r.keepLast != UINT64_MAX && last - c.first + 1 > r.keepLast) || c.ts.front() < r.minTsMs)) {
      c.ts.erase(c.ts.begin());
      ++c.first;
      ++result.deleted;
    }
    result.more = result.deleted == r.maxDeletes && !c.ts.empty();
    return result;
  }
};

}  // namespace

TEST_CASE("retention sweeper: slices of channels, bounded deletes, one pass per interval", "[retention]") {
  FakeStore store;
  for (int i = 0; i < 10; ++i) store.channels["room:" + std::to_string(i)].ts = std::vector<int64_t>(50, 1000);
  store.channels["user:1"].ts = {100, 200, 300, 5000, 6000};
  store.channels["other"].ts = std::vector<int64_t>(50, 1000);
  RetentionPolicy policy;
  REQUIRE(policy.parse({"room:*=20/-", "user:*=-/1s"}).empty());
  RetentionSweeper sweeper(store, policy, {std::chrono::milliseconds(60000), 3, 7});
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  REQUIRE(sweeper.due(t0));
  int steps = 0;
  while (sweeper.due(t0) && steps < 1000) {
    store.trims.clear();
    sweeper.step(t0, 4500);  // now 4500 ms: user:1 keeps ts >= 3500
    CHECK(store.trims.size() <= 3);  // a slice: at most channelsPerStep trims
    ++steps;
  }
  CHECK(sweeper.passes() == 1);
  CHECK_FALSE(sweeper.active());
  CHECK(steps > 12);  // 30 deletes per room channel at 7 per call: several slices
  for (int i = 0; i < 10; ++i) {
    const auto& c = store.channels["room:" + std::to_string(i)];
    CHECK(c.ts.size() == 20);
    CHECK(c.first == 31);
  }
  CHECK(store.channels["user:1"].ts == std::vector<int64_t>{5000, 6000});
  CHECK(store.channels["other"].ts.size() == 50);  // no rule: kept
  CHECK(sweeper.lastPass().channels == 12);
  CHECK(sweeper.lastPass().deleted == 10 * 30 + 3);
  CHECK_FALSE(sweeper.due(t0 + std::chrono::seconds(59)));
  CHECK(sweeper.due(t0 + std::chrono::seconds(60)));
}

TEST_CASE("retention sweeper: an empty policy never runs", "[retention]") {
  FakeStore store;
  store.channels["room:1"].ts = {1, 2, 3};
  RetentionPolicy policy;
  REQUIRE(policy.parse({}).empty());
  RetentionSweeper sweeper(store, policy, {});
  CHECK_FALSE(sweeper.due(std::chrono::steady_clock::now()));
}

TEST_CASE("retention sweeper: a store error pauses the pass, which then resumes", "[retention]") {
  struct FailingStore final : public HistoryStore {
    bool failing = true;
    int calls = 0;
    std::optional<ChannelMeta> loadMeta(std::string_view) override { return std::nullopt; }
    std::optional<DedupRecord> loadDedup(std::string_view, std::string_view) override { return std::nullopt; }
    void commit(const WriteSet&, bool) override {}
    HistoryPage readPage(std::string_view, const HistoryQuery&) override { return {}; }
    uint64_t countChannels() override { return 1; }
    std::vector<std::string> listChannels(std::string_view after, size_t) override {
      if (after.empty()) return {"room:1"};
      return {};
    }
    TrimResult trimHistory(std::string_view, const TrimRequest&) override {
      ++calls;
      if (failing) throw HistoryStoreError("down");
      return {};
    }
  } store;
  RetentionPolicy policy;
  REQUIRE(policy.parse({"room:*=1/-"}).empty());
  RetentionSweeper sweeper(store, policy, {std::chrono::milliseconds(60000), 4, 10, std::chrono::milliseconds(1000)});
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  CHECK_THROWS_AS(sweeper.step(t0, 0), HistoryStoreError);
  CHECK_FALSE(sweeper.due(t0 + std::chrono::milliseconds(999)));  // paused: the loop keeps polling normally
  sweeper.step(t0 + std::chrono::milliseconds(500), 0);           // a step during the pause does nothing
  CHECK(store.calls == 1);
  store.failing = false;
  REQUIRE(sweeper.due(t0 + std::chrono::milliseconds(1000)));
  sweeper.step(t0 + std::chrono::milliseconds(1000), 0);
  sweeper.step(t0 + std::chrono::milliseconds(1000), 0);
  CHECK(sweeper.passes() == 1);
  CHECK(store.calls == 2);
}

TEST_CASE("retention sweeper: a channel with a batch in flight is trimmed from its durable seq", "[retention][pipeline]") {
  FakeStore store;
  store.channels["room:a"].ts = std::vector<int64_t>(10, 1000);
  store.channels["room:b"].ts = std::vector<int64_t>(10, 1000);
  RetentionPolicy policy;
  REQUIRE(policy.parse({"room:*=5/-"}).empty());
  RetentionSweeper sweeper(store, policy, {std::chrono::milliseconds(60000), 16, 100});
  // The hub's sequencer: room:a is in memory with durable seq 7; room:b is not (all durable).
  sweeper.setDurablePositions([](const std::string& channel) -> std::optional<ChannelMeta> {
    if (channel == "room:a") return ChannelMeta{1, 7};
    return std::nullopt;
  });
  sweeper.step(std::chrono::steady_clock::time_point{} + std::chrono::hours(1), 1000);
  REQUIRE(store.trims == std::vector<std::string>{"room:a", "room:b"});
  CHECK(store.durableLasts == std::vector<uint64_t>{7, UINT64_MAX});
}
