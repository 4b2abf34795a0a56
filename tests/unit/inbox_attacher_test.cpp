#include "frontend/inbox_attacher.h"

#include <catch2/catch.hpp>

#include <set>
#include <string>

using webim::InboxAttacher;

namespace {

struct World {
  std::set<std::pair<size_t, std::string>> held;
  InboxAttacher::Held predicate() {
    return [this](size_t shard, const std::string& user) { return held.count({shard, user}) > 0; };
  }
};

InboxAttacher make(size_t shards, size_t chunkBytes = 32 * 1024) {
  InboxAttacher::Options options;
  options.maxChunkBytes = chunkBytes;
  options.retryMinMs = 200;
  options.retryMaxMs = 5000;
  return InboxAttacher(shards, options, [] { return uint64_t{0}; });  // no jitter: half the backoff
}

std::set<std::string> users(const std::vector<InboxAttacher::Chunk>& chunks, bool attach) {
  std::set<std::string> out;
  for (const auto& c : chunks) {
    if (c.attach == attach) out.insert(c.users.begin(), c.users.end());
  }
  return out;
}

}  // namespace

TEST_CASE("an inbox that comes and goes in one iteration is one detach, never an attach after it", "[inbox_attacher]") {
  InboxAttacher a = make(1);
  World w;
  // [auth][sub user:u][close] in one write: created, then erased, before the iteration's flush.
  a.changed(0, "u");
  a.changed(0, "u");
  auto chunks = a.take(0, w.predicate());
  REQUIRE(chunks.size() == 1);
  CHECK_FALSE(chunks[0].attach);
  CHECK(chunks[0].users == std::vector<std::string>{"u"});
  CHECK(a.take(0, w.predicate()).empty());

  // Gone and back in one iteration (another tab took it over): one attach.
  w.held.insert({0, "v"});
  a.changed(0, "v");
  a.changed(0, "v");
  chunks = a.take(0, w.predicate());
  REQUIRE(chunks.size() == 1);
  CHECK(chunks[0].attach);
}

TEST_CASE("attaches are chunked under the byte limit and split by shard", "[inbox_attacher]") {
  InboxAttacher a = make(2, 1000);
  World w;
  for (int i = 0; i < 18000; ++i) {
    std::string user = std::to_string(1000000 + i);  // 7 digits + 4 bytes of framing = 11
    size_t shard = i % 2;
    w.held.insert({shard, user});
    a.changed(shard, user);
  }
  auto chunks = a.take(0, w.predicate());
  size_t total = 0;
  for (const auto& c : chunks) {
    CHECK(c.attach);
    size_t bytes = 0;
    for (const auto& u : c.users) {
      bytes += u.size() + 4;
      CHECK(w.held.count({c.shard, u}) == 1);  // on its own shard
    }
    CHECK(bytes <= 1000);
    CHECK(c.users.size() == 90);  // 9000 per shard in chunks of 90
    total += c.users.size();
  }
  CHECK(total == 18000);
  CHECK(chunks.size() == 200);
}

TEST_CASE("a failed attach is retried after a growing backoff until acknowledged", "[inbox_attacher]") {
  InboxAttacher a = make(1);
  World w;
  w.held = {{0, "a"}, {0, "b"}, {0, "c"}};
  for (const char* u : {"a", "b", "c"}) a.changed(0, u);
  auto chunks = a.take(1000, w.predicate());
  REQUIRE(chunks.size() == 1);
  CHECK(a.nextRetryMs() == UINT64_MAX);

  a.failed(0, chunks[0].users, 1000);
  CHECK(a.nextRetryMs() == 1100);  // 200 ms backoff, no jitter: half of it
  CHECK_FALSE(a.due(1099));
  CHECK(a.take(1099, w.predicate()).empty());
  w.held.erase({0, "c"});  // went away meanwhile; its detach is part of the changes
  a.changed(0, "c");
  chunks = a.take(1099, w.predicate());
  REQUIRE(chunks.size() == 1);
  CHECK_FALSE(chunks[0].attach);
  CHECK(a.due(1100));
  chunks = a.take(1100, w.predicate());
  REQUIRE(chunks.size() == 1);
  CHECK(users(chunks, true) == std::set<std::string>{"a", "b"});

  // Failing again doubles the wait, up to the maximum.
  a.failed(0, chunks[0].users, 2000);
  CHECK(a.nextRetryMs() == 2200);
  chunks = a.take(2200, w.predicate());
  a.failed(0, chunks[0].users, 3000);
  CHECK(a.nextRetryMs() == 3400);
  for (int i = 0; i < 10; ++i) {
    chunks = a.take(a.nextRetryMs(), w.predicate());
    a.failed(0, chunks[0].users, 10000);
  }
  CHECK(a.nextRetryMs() == 12500);  // capped at 5000 ms, half of it without jitter
  chunks = a.take(12500, w.predicate());
  a.succeeded(0);
  a.failed(0, chunks[0].users, 20000);
  CHECK(a.nextRetryMs() == 20100);  // back to the minimum after a success
}

TEST_CASE("users dropped while waiting for a retry are not retried", "[inbox_attacher]") {
  InboxAttacher a = make(1);
  World w;
  a.failed(0, {"x"}, 0);
  CHECK(a.due(100));
  CHECK(a.take(100, w.predicate()).empty());  // not held: nothing to attach or detach
  CHECK(a.nextRetryMs() == UINT64_MAX);
}

TEST_CASE("the retry wait is jittered over the upper half of the backoff", "[inbox_attacher]") {
  InboxAttacher::Options options;  // 200 ms doubling to 5 s
  for (uint64_t r : {uint64_t{0}, uint64_t{99}, uint64_t{100}, uint64_t{12345}}) {
    InboxAttacher fresh(1, options, [r] { return r; });
    fresh.failed(0, {"a"}, 1000);
    CHECK(fresh.nextRetryMs() >= 1100);
    CHECK(fresh.nextRetryMs() < 1200);
    CHECK(fresh.nextRetryMs() == 1100 + r % 100);
  }
}

TEST_CASE("detaches are chunked like attaches, per shard", "[inbox_attacher]") {
  InboxAttacher a = make(2, 100);
  World w;
  for (int i = 0; i < 40; ++i) a.changed(i % 2, "user" + std::to_string(100 + i));  // none held: detaches
  auto chunks = a.take(0, w.predicate());
  size_t total = 0;
  for (const auto& c : chunks) {
    CHECK_FALSE(c.attach);
    size_t bytes = 0;
    for (const auto& u : c.users) {
      bytes += u.size() + 4;
      CHECK((std::stoi(u.substr(4)) - 100) % 2 == static_cast<int>(c.shard));
    }
    CHECK(bytes <= 100);
    total += c.users.size();
  }
  CHECK(total == 40);
  CHECK(chunks.size() == 6);  // 20 per shard, 9 of 11 bytes to a chunk: 9 + 9 + 2
}

TEST_CASE("each shard backs off on its own", "[inbox_attacher]") {
  InboxAttacher a = make(2);
  World w;
  w.held = {{0, "a"}, {1, "b"}};
  a.failed(0, {"a"}, 0);
  a.failed(0, {"a"}, 0);  // shard 0 failed twice: 400 ms, half without jitter
  a.failed(1, {"b"}, 0);
  CHECK(a.nextRetryMs() == 100);
  auto chunks = a.take(100, w.predicate());
  REQUIRE(chunks.size() == 1);
  CHECK(chunks[0].shard == 1);
  CHECK(a.nextRetryMs() == 200);
  chunks = a.take(200, w.predicate());
  REQUIRE(chunks.size() == 1);
  CHECK(chunks[0].shard == 0);
  CHECK(chunks[0].users == std::vector<std::string>{"a"});
}

TEST_CASE("a change while a retry waits decides the user afresh", "[inbox_attacher]") {
  InboxAttacher a = make(1);
  World w;
  a.failed(0, {"a", "b"}, 0);
  w.held = {{0, "b"}};
  a.changed(0, "a");  // gone before its retry: a detach now, no retry later
  auto chunks = a.take(0, w.predicate());
  REQUIRE(chunks.size() == 1);
  CHECK_FALSE(chunks[0].attach);
  CHECK(chunks[0].users == std::vector<std::string>{"a"});
  chunks = a.take(100, w.predicate());
  CHECK(users(chunks, true) == std::set<std::string>{"b"});
  CHECK(users(chunks, false).empty());
  CHECK(a.nextRetryMs() == UINT64_MAX);
}
