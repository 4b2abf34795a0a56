#include "frontend/channel_index.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

using namespace webim;

namespace {

// Subscribers and joiners are only compared and stored, never dereferenced.
Connection* fakeConnection(uintptr_t n) { return reinterpret_cast<Connection*>((n + 1) * 16); }
JoinWait* fakeJoiner(uintptr_t n) { return reinterpret_cast<JoinWait*>((n + 1) * 16); }

std::vector<Connection*> contents(const SubscriberList& list) {
  std::vector<Connection*> out(list.begin(), list.end());
  std::sort(out.begin(), out.end());
  return out;
}

bool isInline(const SubscriberList& list) {
  auto* at = reinterpret_cast<const char*>(list.begin());
  auto* self = reinterpret_cast<const char*>(&list);
  return at >= self && at < self + sizeof list;
}

// Drives `index` and a std::unordered_map model with the same random acquires and releases (a
// release is a pending join given up, so the channel goes once its count is back to 0), and counts
// every answer on which they disagree.
struct ModelRun {
  ChannelIndex index;
  std::unordered_map<std::string, std::pair<Channel*, uint32_t>> model;  // name -> channel, joins
  std::mt19937 rng;
  size_t disagreements = 0;
  size_t overloaded = 0;  // times the load went over 0.75

  explicit ModelRun(uint32_t seed) : rng(seed) {}

  void acquire(const std::string& name) {
    auto [channel, created] = index.acquire(name);
    auto it = model.find(name);
    if (created != (it == model.end())) disagreements++;
    if (it == model.end()) {
      if (channel->name != name || channel->pins != 1) disagreements++;
      model.emplace(name, std::pair{channel, 1u});
    } else {
      if (channel != it->second.first || channel->pins != ++it->second.second) disagreements++;
    }
    checkLoad();
  }

  void release(const std::string& name) {
    auto it = model.find(name);
    Channel* channel = it->second.first;
    channel->pins--;
    bool erased = index.remove(channel, nullptr);
    if (erased != (--it->second.second == 0)) disagreements++;
    if (erased) model.erase(it);
    checkLoad();
  }

  void find(const std::string& name) {
    auto it = model.find(name);
    if (index.find(name) != (it == model.end() ? nullptr : it->second.first)) disagreements++;
  }

  void checkLoad() {
    if (index.size() != model.size()) disagreements++;
    if (index.size() * 4 > index.capacity() * 3) overloaded++;
  }

  // Every name in `names` and every channel visited by forEach agrees with the model.
  void checkAll(const std::vector<std::string>& names) {
    for (const std::string& name : names) find(name);
    std::unordered_set<Channel*> seen;
    size_t visits = 0;
    index.forEach([&](Channel* channel) {
      visits++;
      seen.insert(channel);
      auto it = model.find(channel->name);
      if (it == model.end() || it->second.first != channel) disagreements++;
    });
    CHECK(visits == model.size());
    CHECK(seen.size() == model.size());
  }
};

std::vector<std::string> names(const char* prefix, size_t count) {
  std::vector<std::string> out;
  for (size_t i = 0; i < count; i++) out.push_back(prefix + std::to_string(i));
  return out;
}

}  // namespace

TEST_CASE("the index agrees with a map for 100,000 channels acquired and removed in random order",
          "[channel_index]") {
  ModelRun run(1);
  const std::vector<std::string> users = names("user:", 100'000);
  const std::vector<std::string> absent = names("room:", 1'000);

  std::vector<size_t> order(users.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  std::shuffle(order.begin(), order.end(), run.rng);
  for (size_t i : order) run.acquire(users[i]);
  run.checkAll(users);
  CHECK(run.index.size() == users.size());

  // Churn: acquire (new or again), release, look up, each at random.
  std::uniform_int_distribution<size_t> pick(0, users.size() - 1);
  for (int op = 0; op < 400'000; op++) {
    const std::string& name = users[pick(run.rng)];
    switch (run.rng() % 3) {
      case 0:
        run.acquire(name);
        break;
      case 1:
        if (run.model.count(name)) run.release(name);
        break;
      default:
        run.find(name);
    }
  }
  run.checkAll(users);
  for (const std::string& name : absent) CHECK(run.index.find(name) == nullptr);

  // Mass removal in random order: the table shrinks with it.
  const size_t peak = run.index.capacity();
  std::shuffle(order.begin(), order.end(), run.rng);
  for (size_t n = 0; n < order.size(); n++) {
    const std::string& name = users[order[n]];
    while (run.model.count(name)) run.release(name);
    if (n % 97 == 0) run.find(users[pick(run.rng)]);
    if (run.index.size() == 100) {
      run.checkAll(users);
      CHECK(run.index.capacity() <= 512);  // 100 channels at a load of at least 0.2
    }
  }
  run.checkAll(users);
  CHECK(peak >= 131'072);
  CHECK(run.index.size() == 0);
  CHECK(run.index.capacity() == 16);
  CHECK(run.disagreements == 0);
  CHECK(run.overloaded == 0);
}

TEST_CASE("a small index that wraps around its table agrees with a map", "[channel_index]") {
  // Few names, so probe runs often cross the end of the table and deletions shift across it.
  for (size_t pool : {5, 12, 13, 30, 100}) {
    ModelRun run(static_cast<uint32_t>(pool));
    const std::vector<std::string> pooled = names("c", pool);
    std::uniform_int_distribution<size_t> pick(0, pool - 1);
    for (int op = 0; op < 50'000; op++) {
      const std::string& name = pooled[pick(run.rng)];
      if (run.rng() % 2 && run.model.count(name)) {
        run.release(name);
      } else {
        run.acquire(name);
      }
      run.find(pooled[pick(run.rng)]);
    }
    run.checkAll(pooled);
    CHECK(run.disagreements == 0);
    CHECK(run.overloaded == 0);
  }
}

TEST_CASE("a channel leaves the index only when no subscriber, joiner, pending join or fill holds it",
          "[channel_index]") {
  ChannelIndex index;
  auto [channel, created] = index.acquire("room:1");
  CHECK(created);
  CHECK(channel->pins == 1);
  CHECK_FALSE(index.remove(channel, fakeConnection(1)));  // still catching up
  CHECK(index.acquire("room:1") == std::pair{channel, false});
  CHECK(channel->pins == 2);

  // Both go live.
  channel->pins = 0;
  channel->subscribers.push_back(fakeConnection(1));
  channel->subscribers.push_back(fakeConnection(2));
  CHECK_FALSE(index.remove(channel, fakeConnection(3)));  // not a subscriber: nothing changes
  CHECK(channel->subscribers.size() == 2);
  CHECK_FALSE(index.remove(channel, fakeConnection(1)));
  CHECK(contents(channel->subscribers) == std::vector{fakeConnection(2)});

  channel->catchUp().joiners.push_back(fakeJoiner(1));
  CHECK_FALSE(index.remove(channel, fakeConnection(2)));
  CHECK(channel->subscribers.empty());
  CHECK(index.find("room:1") == channel);

  channel->catchUp().joiners.clear();
  channel->catchUp().filling = true;
  CHECK_FALSE(index.remove(channel, nullptr));
  CHECK(index.find("room:1") == channel);

  channel->catchUp().filling = false;
  channel->pins = 1;
  CHECK_FALSE(index.remove(channel, nullptr));
  channel->pins = 0;
  CHECK(index.remove(channel, nullptr));
  CHECK(index.find("room:1") == nullptr);
  CHECK(index.size() == 0);
}

TEST_CASE("forEach visits each channel exactly once", "[channel_index]") {
  ChannelIndex index;
  index.forEach([](Channel*) { FAIL("an empty index has no channel"); });
  const std::vector<std::string> all = names("room:", 1'000);
  for (const std::string& name : all) index.acquire(name);
  std::unordered_map<std::string, int> visits;
  index.forEach([&](Channel* channel) { visits[channel->name]++; });
  CHECK(visits.size() == all.size());
  CHECK(std::all_of(visits.begin(), visits.end(), [](const auto& v) { return v.second == 1; }));
}

TEST_CASE("a subscriber list keeps one subscriber inline and more in a heap array that shrinks back",
          "[channel_index]") {
  SECTION("inline, heap, inline") {
    SubscriberList list;
    CHECK(list.empty());
    CHECK(list.begin() == list.end());
    CHECK_FALSE(list.erase(fakeConnection(1)));
    list.push_back(fakeConnection(1));
    CHECK(isInline(list));
    CHECK(contents(list) == std::vector{fakeConnection(1)});
    list.push_back(fakeConnection(2));
    CHECK_FALSE(isInline(list));
    CHECK(contents(list) == std::vector{fakeConnection(1), fakeConnection(2)});
    CHECK(list.erase(fakeConnection(1)));
    CHECK(isInline(list));
    CHECK(contents(list) == std::vector{fakeConnection(2)});
    CHECK(list.erase(fakeConnection(2)));
    CHECK(list.empty());
    CHECK(isInline(list));
    list.push_back(fakeConnection(3));  // reusable once empty
    CHECK(contents(list) == std::vector{fakeConnection(3)});
  }

  SECTION("erasing each position of each size keeps the others") {
    for (size_t n = 1; n <= 40; n++) {
      for (size_t k = 0; k < n; k++) {
        SubscriberList list;
        std::vector<Connection*> expected;
        for (size_t i = 0; i < n; i++) {
          list.push_back(fakeConnection(i));
          expected.push_back(fakeConnection(i));
        }
        // Insertion order is kept until the first erase, so position k holds connection k.
        CHECK(list.begin()[k] == fakeConnection(k));
        CHECK(list.erase(fakeConnection(k)));
        expected.erase(expected.begin() + static_cast<ptrdiff_t>(k));
        CHECK(contents(list) == expected);
        CHECK(list.size() == n - 1);
        CHECK(isInline(list) == (n - 1 <= 1));
      }
    }
  }

  SECTION("the heap array follows the size down") {
    std::mt19937 rng(3);
    SubscriberList list;
    std::vector<Connection*> expected;
    for (size_t i = 0; i < 200; i++) {
      list.push_back(fakeConnection(i));
      expected.push_back(fakeConnection(i));
    }
    CHECK(list.capacity() >= 200);
    std::shuffle(expected.begin(), expected.end(), rng);
    while (!expected.empty()) {
      CHECK(list.erase(expected.back()));
      expected.pop_back();
      std::vector<Connection*> sorted = expected;
      std::sort(sorted.begin(), sorted.end());
      REQUIRE(contents(list) == sorted);
      if (list.size() <= 1) {
        CHECK(list.capacity() == 1);
      } else {
        CHECK(list.capacity() < 4 * list.size());  // never more than a quarter full
      }
    }
    // And it grows again after shrinking.
    for (size_t i = 0; i < 10; i++) list.push_back(fakeConnection(i));
    CHECK(list.size() == 10);
    CHECK(contents(list).size() == 10);
  }
}

TEST_CASE("a channel is 72 bytes and its subscriber list one word", "[channel_index]") {
  // 72 + glibc's 8-byte header is an 80-byte chunk; every connected user's inbox is one.
  STATIC_REQUIRE(sizeof(SubscriberList) == 8);
  STATIC_REQUIRE(sizeof(Channel) <= 72);
}

TEST_CASE("live and pins share a word without disturbing each other", "[channel_index]") {
  Channel channel;
  CHECK_FALSE(channel.live);
  CHECK(channel.pins == 0);
  channel.pins++;
  channel.pins++;
  CHECK_FALSE(channel.live);
  channel.live = true;
  CHECK(channel.pins == 2);
  channel.pins--;
  channel.pins--;
  CHECK(channel.live);
  CHECK(channel.pins == 0);
  channel.pins = (1u << 31) - 1;  // the most the 31 bits hold
  CHECK(channel.live);
  channel.live = false;
  CHECK(channel.pins == (1u << 31) - 1);
}

TEST_CASE("a subscriber list goes 0 -> 1 -> 2 -> 1 -> 0 through each representation", "[channel_index]") {
  for (size_t first : {0, 1}) {  // which of the two leaves first
    SubscriberList list;
    CHECK(list.empty());
    CHECK(list.size() == 0);
    CHECK(list.capacity() == 1);
    CHECK(isInline(list));
    CHECK_FALSE(list.erase(nullptr));  // the empty word is not a subscriber
    CHECK_FALSE(list.erase(fakeConnection(0)));

    list.push_back(fakeConnection(0));  // inline: the word is the subscriber
    CHECK(isInline(list));
    CHECK(list.size() == 1);
    CHECK(list.capacity() == 1);
    CHECK(*list.begin() == fakeConnection(0));
    CHECK(list.end() == list.begin() + 1);
    CHECK_FALSE(list.erase(nullptr));
    CHECK_FALSE(list.erase(fakeConnection(1)));
    CHECK(list.size() == 1);

    list.push_back(fakeConnection(1));  // tagged: a heap block
    CHECK_FALSE(isInline(list));
    CHECK_FALSE(list.empty());
    CHECK(list.size() == 2);
    CHECK(list.capacity() == 4);
    CHECK(list.begin()[0] == fakeConnection(0));
    CHECK(list.begin()[1] == fakeConnection(1));
    CHECK(reinterpret_cast<uintptr_t>(list.begin()) % alignof(Connection*) == 0);
    CHECK_FALSE(list.erase(nullptr));
    CHECK_FALSE(list.erase(fakeConnection(2)));

    CHECK(list.erase(fakeConnection(first)));  // back inline, holding the other
    CHECK(isInline(list));
    CHECK(list.size() == 1);
    CHECK(list.capacity() == 1);
    CHECK(*list.begin() == fakeConnection(1 - first));
    CHECK_FALSE(list.erase(fakeConnection(first)));

    CHECK(list.erase(fakeConnection(1 - first)));
    CHECK(list.empty());
    CHECK(list.begin() == list.end());
    CHECK(isInline(list));
    CHECK_FALSE(list.erase(fakeConnection(1 - first)));
  }
}

TEST_CASE("a subscriber list takes 1,000 subscribers and gives them back in any order", "[channel_index]") {
  // The capacity the growth and shrink policy gives: doubling from 4 when full, halving when a
  // quarter full, inline again at one.
  auto grown = [](size_t size) -> size_t {
    size_t capacity = size <= 1 ? 1 : 4;
    while (capacity < size) capacity *= 2;
    return capacity;
  };
  enum Order { Front, Back, Random };
  for (Order order : {Front, Back, Random}) {
    std::mt19937 rng(7);
    SubscriberList list;
    std::vector<Connection*> expected;
    for (size_t i = 0; i < 1'000; i++) {
      list.push_back(fakeConnection(i));
      expected.push_back(fakeConnection(i));
      REQUIRE(list.size() == i + 1);
      REQUIRE(list.capacity() == grown(i + 1));
      REQUIRE(list.begin()[i] == fakeConnection(i));
    }
    CHECK(list.capacity() == 1'024);
    CHECK(contents(list) == expected);

    if (order == Random) std::shuffle(expected.begin(), expected.end(), rng);
    size_t capacity = list.capacity();
    while (!expected.empty()) {
      Connection* leaving = order == Front ? expected.front() : expected.back();
      REQUIRE(list.erase(leaving));
      REQUIRE_FALSE(list.erase(leaving));
      expected.erase(std::find(expected.begin(), expected.end(), leaving));
      if (expected.size() <= 1) {
        capacity = 1;
      } else if (expected.size() <= capacity / 4) {
        capacity /= 2;
      }
      REQUIRE(list.size() == expected.size());
      REQUIRE(list.capacity() == capacity);
      REQUIRE(isInline(list) == (expected.size() <= 1));
      if (expected.size() % 37 == 0 || expected.size() < 10) {
        std::vector<Connection*> sorted = expected;
        std::sort(sorted.begin(), sorted.end());
        REQUIRE(contents(list) == sorted);
      }
    }
    CHECK(list.empty());
  }
}

TEST_CASE("a subscriber list's block halves at a quarter full and frees itself at one", "[channel_index]") {
  SubscriberList list;
  for (size_t i = 0; i < 1'000; i++) list.push_back(fakeConnection(i));
  // Erase from the top, so size() - 1 is the last one left in the block.
  auto shrinkTo = [&](size_t size) {
    while (list.size() > size) REQUIRE(list.erase(fakeConnection(list.size() - 1)));
  };
  shrinkTo(257);
  CHECK(list.capacity() == 1'024);
  shrinkTo(256);  // a quarter of 1,024
  CHECK(list.capacity() == 512);
  shrinkTo(129);
  CHECK(list.capacity() == 512);
  shrinkTo(128);
  CHECK(list.capacity() == 256);
  shrinkTo(3);
  CHECK(list.capacity() == 8);
  shrinkTo(2);
  CHECK(list.capacity() == 4);
  CHECK_FALSE(isInline(list));
  shrinkTo(1);
  CHECK(list.capacity() == 1);
  CHECK(isInline(list));
  CHECK(*list.begin() == fakeConnection(0));

  // Growing right after a halving does not reallocate at once: it left the block half full.
  for (size_t i = 1; i < 256; i++) list.push_back(fakeConnection(i));
  CHECK(list.capacity() == 256);
  shrinkTo(64);
  CHECK(list.capacity() == 128);
  list.push_back(fakeConnection(64));
  CHECK(list.capacity() == 128);
  CHECK(contents(list).size() == 65);
}
