#include "common/latency_histogram.h"

#include <catch2/catch.hpp>

using webim::LatencyHistogram;

TEST_CASE("each value lands in the first bucket whose bound holds it", "[latency_histogram]") {
  CHECK(LatencyHistogram::bucketOf(0) == 0);
  CHECK(LatencyHistogram::bucketOf(100) == 0);
  CHECK(LatencyHistogram::bucketOf(101) == 1);
  CHECK(LatencyHistogram::bucketOf(200) == 1);
  CHECK(LatencyHistogram::bucketOf(201) == 2);
  CHECK(LatencyHistogram::bucketOf(400) == 2);
  CHECK(LatencyHistogram::bucketOf(401) == 3);
  // Every bound, and one past it, against a plain scan of the bounds.
  for (size_t i = 0; i < LatencyHistogram::kBounds; ++i) {
    uint64_t bound = LatencyHistogram::boundUs(i);
    CHECK(LatencyHistogram::bucketOf(bound) == i);
    CHECK(LatencyHistogram::bucketOf(bound + 1) == i + 1);
  }
  CHECK(LatencyHistogram::bucketOf(LatencyHistogram::boundUs(LatencyHistogram::kBounds - 1) + 1) ==
        LatencyHistogram::kBounds);
  CHECK(LatencyHistogram::bucketOf(UINT64_MAX) == LatencyHistogram::kBounds);
}

TEST_CASE("observations are counted, summed and rendered cumulatively in seconds", "[latency_histogram]") {
  LatencyHistogram h;
  h.observe(50);          // <= 0.0001 s
  h.observe(150);         // <= 0.0002 s
  h.observeNs(150'000);   // the same, in nanoseconds
  h.observe(10'000'000);  // 10 s: +Inf only
  CHECK(h.count() == 4);
  CHECK(h.sumUs() == 10'000'350);
  CHECK(h.inBucket(0) == 1);
  CHECK(h.inBucket(1) == 2);
  CHECK(h.inBucket(LatencyHistogram::kBounds) == 1);

  std::string out;
  h.render(out, "webim_x_seconds", "an example", "frontend=\"fe1\"");
  CHECK(out.find("# HELP webim_x_seconds an example\n# TYPE webim_x_seconds histogram\n") == 0);
  CHECK(out.find("webim_x_seconds_bucket{frontend=\"fe1\",le=\"0.0001\"} 1\n") != std::string::npos);
  CHECK(out.find("webim_x_seconds_bucket{frontend=\"fe1\",le=\"0.0002\"} 3\n") != std::string::npos);
  CHECK(out.find("webim_x_seconds_bucket{frontend=\"fe1\",le=\"3.2768\"} 3\n") != std::string::npos);
  CHECK(out.find("webim_x_seconds_bucket{frontend=\"fe1\",le=\"+Inf\"} 4\n") != std::string::npos);
  CHECK(out.find("webim_x_seconds_sum{frontend=\"fe1\"} 10.00035\n") != std::string::npos);
  CHECK(out.find("webim_x_seconds_count{frontend=\"fe1\"} 4\n") != std::string::npos);

  std::string bare;
  LatencyHistogram().renderSeries(bare, "h", "");
  CHECK(bare.find("h_bucket{le=\"0.0001\"} 0\n") == 0);
  CHECK(bare.find("h_sum 0\n") != std::string::npos);
}
