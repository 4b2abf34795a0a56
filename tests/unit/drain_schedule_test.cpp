#include "frontend/drain_schedule.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>
#include <vector>

using namespace webim;

namespace {

std::vector<int> ids(int n) {
  std::vector<int> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 100);
  return v;
}

}  // namespace

TEST_CASE("every connection is handed out once, in a random order", "[drain]") {
  DrainSchedule schedule(ids(1000), 5'000, 10'000, 42);
  std::vector<int> seen;
  for (uint64_t now = 5'000; now <= 15'000; now += 50) schedule.takeDue(now, [&](int fd) { seen.push_back(fd); });
  CHECK(schedule.done());
  CHECK(seen.size() == 1000);
  std::vector<int> sorted = seen;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == ids(1000));
  CHECK(seen != ids(1000));  // shuffled
  DrainSchedule other(ids(1000), 5'000, 10'000, 43);
  CHECK(other.order() != schedule.order());  // another seed, another order
  DrainSchedule same(ids(1000), 5'000, 10'000, 42);
  CHECK(same.order() == schedule.order());  // pure: the seed decides
}

TEST_CASE("closes are spread evenly over the window, the last near its end", "[drain]") {
  const int n = 5000;
  DrainSchedule schedule(ids(n), 1'000, 10'000, 7);
  std::vector<uint64_t> times;
  for (size_t i = 0; i < schedule.size(); ++i) times.push_back(schedule.dueMs(i));
  std::vector<int> perSecond(10, 0);
  for (uint64_t t : times) {
    REQUIRE(t >= 1'000);
    REQUIRE(t < 11'000);
    perSecond[(t - 1'000) / 1'000]++;
  }
  for (int count : perSecond) {
    CHECK(count >= n / 10 - 2);  // stratified: each second holds its share, +- a slot at the edges
    CHECK(count <= n / 10 + 2);
  }
  CHECK(times.back() >= 10'990);
  // Within any 50 ms tick no more than its share (25) plus a slot.
  std::vector<int> perTick(200, 0);
  for (uint64_t t : times) perTick[(t - 1'000) / 50]++;
  CHECK(*std::max_element(perTick.begin(), perTick.end()) <= 26);
  // Driven by a 50 ms tick, everyone is out by the window's end.
  size_t handedOut = 0;
  for (uint64_t now = 1'000; now <= 11'000; now += 50) schedule.takeDue(now, [&](int) { ++handedOut; });
  CHECK(handedOut == static_cast<size_t>(n));
  CHECK(schedule.done());
}

TEST_CASE("each close is jittered within its slot", "[drain]") {
  DrainSchedule schedule(ids(10), 0, 10'000, 99);
  std::vector<uint64_t> offsets;
  for (size_t i = 0; i < schedule.size(); ++i) {
    uint64_t due = schedule.dueMs(i);
    CHECK(due >= i * 1'000);
    CHECK(due < (i + 1) * 1'000);
    if (i > 0) CHECK(due >= schedule.dueMs(i - 1));
    offsets.push_back(due - i * 1'000);
  }
  std::sort(offsets.begin(), offsets.end());
  CHECK(std::adjacent_find(offsets.begin(), offsets.end()) == offsets.end());  // not one fixed offset
  DrainSchedule reseeded(ids(10), 0, 10'000, 100);
  bool differs = false;
  for (size_t i = 0; i < 10; ++i) differs = differs || reseeded.dueMs(i) != schedule.dueMs(i);
  CHECK(differs);
}

TEST_CASE("a zero window or no connection: everything at once", "[drain]") {
  DrainSchedule now(ids(100), 3'000, 0, 1);
  int count = 0;
  now.takeDue(3'000, [&](int) { ++count; });
  CHECK(count == 100);
  CHECK(now.done());
  DrainSchedule empty({}, 3'000, 10'000, 1);
  CHECK(empty.done());
  empty.takeDue(99'000, [&](int) { ++count; });
  CHECK(count == 100);
}

TEST_CASE("nothing is handed out before its time; one connection goes within the window", "[drain]") {
  DrainSchedule one(ids(1), 1'000, 10'000, 5);
  int count = 0;
  one.takeDue(999, [&](int) { ++count; });
  CHECK(count == 0);
  CHECK(one.nextDueMs() >= 1'000);
  CHECK(one.nextDueMs() < 11'000);
  one.takeDue(one.nextDueMs(), [&](int) { ++count; });
  CHECK(count == 1);
  CHECK(one.done());
}
