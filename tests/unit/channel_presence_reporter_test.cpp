#include "frontend/channel_presence_reporter.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using webim::ChannelPresenceReporter;
using Users = std::vector<std::string>;

TEST_CASE("a loop iteration's subscribers reduce to per-user joins and an absolute count", "[channel_presence]") {
  ChannelPresenceReporter r;
  r.joined(0, "room:1", "7");
  r.joined(0, "room:1", "7");
  r.joined(0, "room:1", "8");
  REQUIRE(r.due());
  std::vector<ChannelPresenceReporter::Chunk> chunks = r.take();
  REQUIRE(chunks.size() == 1);
  REQUIRE(chunks[0].changes.size() == 1);
  const ChannelPresenceReporter::Change& c = chunks[0].changes[0];
  CHECK(c.channel == "room:1");
  CHECK(c.connections == 3);
  CHECK(Users(c.join.begin(), c.join.end()).size() == 2);
  CHECK(c.leave.empty());
  CHECK_FALSE(r.due());
}

TEST_CASE("a reconnect within one iteration is only a count", "[channel_presence]") {
  ChannelPresenceReporter r;
  r.joined(0, "room:1", "7");
  r.take();
  r.left("room:1", "7");
  r.joined(0, "room:1", "7");
  std::vector<ChannelPresenceReporter::Chunk> chunks = r.take();
  REQUIRE(chunks.size() == 1);
  CHECK(chunks[0].changes[0].join.empty());
  CHECK(chunks[0].changes[0].leave.empty());
  CHECK(chunks[0].changes[0].connections == 1);
}

TEST_CASE("the last connection of a user leaving is a leave; the channel then goes", "[channel_presence]") {
  ChannelPresenceReporter r;
  r.joined(0, "room:1", "7");
  r.joined(0, "room:1", "7");
  r.take();
  r.left("room:1", "7");
  CHECK(r.take()[0].changes[0].leave.empty());
  r.left("room:1", "7");
  std::vector<ChannelPresenceReporter::Chunk> chunks = r.take();
  CHECK(chunks[0].changes[0].leave == Users{"7"});
  CHECK(chunks[0].changes[0].connections == 0);
  CHECK(r.channels() == 0);
}

TEST_CASE("a user who came and went within one iteration is not reported", "[channel_presence]") {
  ChannelPresenceReporter r;
  r.joined(0, "room:1", "7");
  r.left("room:1", "7");
  std::vector<ChannelPresenceReporter::Chunk> chunks = r.take();
  REQUIRE(chunks.size() == 1);
  CHECK(chunks[0].changes[0].join.empty());
  CHECK(chunks[0].changes[0].leave.empty());
}

TEST_CASE("resend: a restarted hub hears every user again, per shard", "[channel_presence]") {
  ChannelPresenceReporter r;
  r.joined(0, "room:1", "7");
  r.joined(1, "room:2", "8");
  r.take();
  r.resend(0);
  std::vector<ChannelPresenceReporter::Chunk> chunks = r.take();
  REQUIRE(chunks.size() == 1);
  CHECK(chunks[0].shard == 0);
  CHECK(chunks[0].changes[0].join == Users{"7"});
  CHECK(chunks[0].changes[0].connections == 1);
}

TEST_CASE("large changes are chunked; each part repeats the absolute count", "[channel_presence]") {
  ChannelPresenceReporter r(1024);
  for (int i = 0; i < 1000; ++i) r.joined(0, "room:1", "user-" + std::to_string(i));
  std::vector<ChannelPresenceReporter::Chunk> chunks = r.take();
  REQUIRE(chunks.size() > 10);
  size_t users = 0;
  for (const auto& chunk : chunks) {
    for (const auto& change : chunk.changes) {
      CHECK(change.connections == 1000);
      users += change.join.size();
    }
  }
  CHECK(users == 1000);
}
