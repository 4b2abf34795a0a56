#include "frontend/metrics.h"

#include <catch2/catch.hpp>

#include <optional>

using webim::BacklogBytes;
using webim::Metrics;

TEST_CASE("backlog bytes keep the process gauge in step, and leave it when they go", "[metrics]") {
  uint64_t gauge = 0;
  {
    BacklogBytes a(gauge);
    std::optional<BacklogBytes> b(std::in_place, gauge);
    a = 1000;
    *b += 300;
    CHECK(gauge == 1300);
    a -= 400;  // written in part
    CHECK(static_cast<size_t>(a) == 600);
    CHECK(gauge == 900);
    *b = 50;  // dropped to the rest of one frame
    CHECK(gauge == 650);
    b.reset();  // the backlog drained and went
    CHECK(gauge == 600);
  }
  CHECK(gauge == 0);
}

TEST_CASE("frontend metrics render the gauges, counters and histograms by transport", "[metrics]") {
  Metrics m;
  m.websocketsOpen = 2;
  m.eventStreams = 1;
  m.longPolls = 3;
  m.rateLimited = 4;
  m.backlogBytes = 5;
  m.publishAck.observe(250);
  m.deliveryFlush.observe(90);
  m.closesByCode[4008] = 1;
  const std::string text = m.render("fe1", 7, 8);
  for (const char* line :
       {"webim_websockets{frontend=\"fe1\"} 2\n", "webim_event_streams{frontend=\"fe1\"} 1\n",
        "webim_long_polls{frontend=\"fe1\"} 3\n", "webim_rate_limited_total{frontend=\"fe1\"} 4\n",
        "webim_backlog_bytes{frontend=\"fe1\"} 5\n", "webim_channels{frontend=\"fe1\"} 7\n",
        "webim_closes_total{frontend=\"fe1\",code=\"4008\"} 1\n",
        "webim_publish_ack_seconds_bucket{frontend=\"fe1\",le=\"0.0004\"} 1\n",
        "webim_delivery_flush_seconds_bucket{frontend=\"fe1\",le=\"0.0001\"} 1\n",
        "# TYPE webim_publish_ack_seconds histogram\n"}) {
    CHECK(text.find(line) != std::string::npos);
  }
}
