#include "broadcast/hub_metrics.h"

#include <catch2/catch.hpp>

using namespace webim::hub;

TEST_CASE("namespace counters: by the name up to the first ':', at most kMaxNamespaces", "[hub_metrics]") {
  CHECK(NamespaceCounters::namespaceOf("room:1") == "room");
  CHECK(NamespaceCounters::namespaceOf("user:42:x") == "user");
  CHECK(NamespaceCounters::namespaceOf("lobby") == "");

  NamespaceCounters counters;
  counters.published("room:1", 10);
  counters.published("room:2", 5);
  counters.published("user:9", 1);
  counters.subscribed(std::string_view("room:1\0", 7), 1);
  REQUIRE(counters.entries().size() == 2);
  CHECK(counters.entries()[0].name == "room");
  CHECK(counters.entries()[0].messages == 2);
  CHECK(counters.entries()[0].bytes == 15);
  CHECK(counters.entries()[0].subscribed == 1);

  // Names chosen by clients cannot grow the table: past the bound they count as "other".
  for (int i = 0; i < 1000; ++i) counters.published("ns" + std::to_string(i) + ":x", 1);
  REQUIRE(counters.entries().size() == NamespaceCounters::kMaxNamespaces);
  CHECK(counters.entries().back().name == "other");
  uint64_t total = 0;
  for (const auto& e : counters.entries()) total += e.messages;
  CHECK(total == 1003);
  counters.published("room:3", 1);  // a known one still counts as itself
  CHECK(counters.entries()[0].messages == 3);
}

TEST_CASE("hub metrics render every series with the shard label", "[hub_metrics]") {
  HubMetrics metrics;
  metrics.batches = 3;
  metrics.commit.observe(1500);
  metrics.fsync.observeNs(900'000);
  metrics.namespaces.published("room:1", 7);
  HubStats stats;
  stats.published = 5;
  stats.duplicates = 1;
  HubGauges gauges;
  gauges.inFlightBatches = 2;
  gauges.upsertRetries = 4;
  const std::string text = renderHubMetrics(metrics, stats, gauges, "s1");
  for (const char* line :
       {"webim_hub_batches_total{shard=\"s1\"} 3\n", "webim_hub_messages_total{shard=\"s1\"} 5\n",
        "webim_hub_duplicates_total{shard=\"s1\"} 1\n", "webim_hub_in_flight_batches{shard=\"s1\"} 2\n",
        "webim_hub_store_upsert_retries_total{shard=\"s1\"} 4\n",
        "webim_hub_namespace_messages_total{shard=\"s1\",namespace=\"room\"} 1\n",
        "webim_hub_namespace_bytes_total{shard=\"s1\",namespace=\"room\"} 7\n",
        "webim_hub_commit_seconds_bucket{shard=\"s1\",le=\"0.0016\"} 1\n",
        "webim_hub_fsync_seconds_count{shard=\"s1\"} 1\n", "# TYPE webim_hub_commit_seconds histogram\n"}) {
    CHECK(text.find(line) != std::string::npos);
  }
}
