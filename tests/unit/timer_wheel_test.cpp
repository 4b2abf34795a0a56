#include "common/timer_wheel.h"

#include <catch2/catch.hpp>

#include <cstddef>
#include <memory>
#include <random>
#include <stdexcept>
#include <vector>

using namespace webim;

namespace {

// A test timer: records (id, time of the advance that fired it) into a shared log.
struct Fired {
  int id;
  uint64_t atMs;
};

struct TestTimer {
  TimerNode node;  // first member, so the node pointer converts back to the owner
  int id = 0;
  std::vector<Fired>* log = nullptr;
  uint64_t* clock = nullptr;
  TimerWheel* wheel = nullptr;
  int rescheduleLeft = 0;
  uint64_t rescheduleDelta = 0;
  TestTimer* cancelOther = nullptr;

  static void onFire(TimerNode* n) {
    auto* self = reinterpret_cast<TestTimer*>(n);
    CHECK_FALSE(n->scheduled());  // unlinked before the call
    CHECK(n->deadlineMs <= *self->clock);  // never early
    self->log->push_back({self->id, *self->clock});
    if (self->cancelOther != nullptr) self->wheel->cancel(self->cancelOther->node);
    if (self->rescheduleLeft > 0) {
      --self->rescheduleLeft;
      self->wheel->schedule(*n, *self->clock + self->rescheduleDelta);
    }
  }
};

struct Fixture {
  uint64_t now;
  TimerWheel wheel;
  std::vector<Fired> log;
  std::vector<std::unique_ptr<TestTimer>> timers;

  explicit Fixture(uint64_t start = 1'000'000, uint32_t tick = 50, size_t slots = 16)
      : now(start), wheel(start, tick, slots) {}

  TestTimer& add(int id, uint64_t deadline) {
    auto t = std::make_unique<TestTimer>();
    t->id = id;
    t->log = &log;
    t->clock = &now;
    t->wheel = &wheel;
    t->node.fire = &TestTimer::onFire;
    wheel.schedule(t->node, deadline);
    timers.push_back(std::move(t));
    return *timers.back();
  }
  void advanceTo(uint64_t t) {
    now = t;
    wheel.advance(t);
  }
  std::vector<int> firedIds() const {
    std::vector<int> ids;
    for (const auto& f : log) ids.push_back(f.id);
    return ids;
  }
  ~Fixture() {
    for (auto& t : timers) wheel.cancel(t->node);
  }
};

}  // namespace

TEST_CASE("timers fire in deadline order, ties in scheduling order", "[timer_wheel]") {
  Fixture f;
  const uint64_t t0 = f.now;
  f.add(1, t0 + 340);
  f.add(2, t0 + 10);
  f.add(3, t0 + 40);   // same tick as 2, later deadline
  f.add(4, t0 + 20);   // same tick, between
  f.add(5, t0 + 340);  // tie with 1
  f.add(6, t0 + 120);
  CHECK(f.wheel.size() == 6);
  f.advanceTo(t0 + 1000);
  CHECK(f.firedIds() == std::vector<int>{2, 4, 3, 6, 1, 5});
  CHECK(f.wheel.size() == 0);
  CHECK_FALSE(f.wheel.nextDueMs());
}

TEST_CASE("timers never fire early, and fire at exactly their deadline", "[timer_wheel]") {
  Fixture f;
  const uint64_t t0 = f.now;
  f.add(1, t0 + 73);
  f.add(2, t0 + 1);
  for (uint64_t t = t0; t <= t0 + 100; ++t) {
    f.advanceTo(t);
    for (const auto& e : f.log) CHECK(e.atMs == (e.id == 1 ? t0 + 73 : t0 + 1));
  }
  CHECK(f.firedIds() == std::vector<int>{2, 1});
  // Advancing to the same time twice fires nothing more.
  f.advanceTo(t0 + 100);
  CHECK(f.log.size() == 2);
}

TEST_CASE("a deadline already past fires on the next advance", "[timer_wheel]") {
  Fixture f;
  const uint64_t t0 = f.now;
  f.advanceTo(t0 + 500);
  f.add(1, t0);        // in the past
  f.add(2, 0);         // far in the past
  f.add(3, t0 + 500);  // exactly now
  REQUIRE(f.wheel.nextDueMs().has_value());
  CHECK(*f.wheel.nextDueMs() == 0);
  f.advanceTo(t0 + 500);
  CHECK(f.firedIds() == std::vector<int>{2, 1, 3});
}

TEST_CASE("cancel removes a timer and is safe when not scheduled", "[timer_wheel]") {
  Fixture f;
  const uint64_t t0 = f.now;
  TestTimer& a = f.add(1, t0 + 100);
  TestTimer& b = f.add(2, t0 + 100);
  f.wheel.cancel(a.node);
  CHECK_FALSE(a.node.scheduled());
  CHECK(f.wheel.size() == 1);
  f.wheel.cancel(a.node);  // twice: no effect
  CHECK(f.wheel.size() == 1);
  TimerNode never;
  f.wheel.cancel(never);
  CHECK(f.wheel.size() == 1);
  f.advanceTo(t0 + 200);
  CHECK(f.firedIds() == std::vector<int>{2});
  CHECK_FALSE(b.node.scheduled());
  f.wheel.cancel(b.node);  // after firing: no effect
  CHECK(f.wheel.size() == 0);
}

TEST_CASE("schedule on a scheduled node moves it", "[timer_wheel]") {
  Fixture f;
  const uint64_t t0 = f.now;
  TestTimer& a = f.add(1, t0 + 100);
  f.wheel.schedule(a.node, t0 + 900);  // later
  CHECK(f.wheel.size() == 1);
  f.advanceTo(t0 + 500);
  CHECK(f.log.empty());
  f.wheel.schedule(a.node, t0 + 600);  // earlier than 900
  CHECK(f.wheel.size() == 1);
  f.advanceTo(t0 + 600);
  CHECK(f.firedIds() == std::vector<int>{1});
  f.advanceTo(t0 + 1000);
  CHECK(f.log.size() == 1);
}

TEST_CASE("fire may re-schedule its own node", "[timer_wheel]") {
  Fixture f;
  const uint64_t t0 = f.now;
  TestTimer& a = f.add(1, t0 + 100);
  a.rescheduleLeft = 3;
  a.rescheduleDelta = 100;
  for (uint64_t t = t0; t <= t0 + 1000; t += 10) f.advanceTo(t);
  REQUIRE(f.log.size() == 4);
  CHECK(f.log[0].atMs == t0 + 100);
  CHECK(f.log[1].atMs == t0 + 200);
  CHECK(f.log[2].atMs == t0 + 300);
  CHECK(f.log[3].atMs == t0 + 400);
  CHECK(f.wheel.size() == 0);

  // Re-scheduling to "now" from inside fire waits for the next advance (bounded work per call).
  TestTimer& b = f.add(2, t0 + 1000);
  b.rescheduleLeft = 1;
  b.rescheduleDelta = 0;
  f.advanceTo(t0 + 1000);
  CHECK(f.log.size() == 5);
  CHECK(f.wheel.size() == 1);
  f.advanceTo(t0 + 1000);
  CHECK(f.log.size() == 6);
  CHECK(f.wheel.size() == 0);
}

TEST_CASE("fire may cancel another due node or free its own owner", "[timer_wheel]") {
  Fixture f;
  const uint64_t t0 = f.now;
  TestTimer& a = f.add(1, t0 + 10);
  TestTimer& b = f.add(2, t0 + 20);
  f.add(3, t0 + 30);
  a.cancelOther = &b;  // b is due in the same advance but cancelled before its turn
  f.advanceTo(t0 + 100);
  CHECK(f.firedIds() == std::vector<int>{1, 3});
  CHECK(f.wheel.size() == 0);

  // An owner freed from its own callback.
  struct Owner {
    TimerNode node;
    int* count;
  };
  int count = 0;
  auto* owner = new Owner{{}, &count};
  owner->node.fire = [](TimerNode* n) {
    auto* o = reinterpret_cast<Owner*>(n);
    ++*o->count;
    delete o;
  };
  f.wheel.schedule(owner->node, t0 + 150);
  f.advanceTo(t0 + 150);
  CHECK(count == 1);
  CHECK(f.wheel.size() == 0);
}

TEST_CASE("deadlines beyond one rotation wait in their slot until due", "[timer_wheel]") {
  Fixture f(0, 50, 16);  // one rotation = 800 ms
  f.add(1, 50);
  f.add(2, 850);    // same slot as 1, next rotation
  f.add(3, 1650);   // same slot, two rotations later
  f.add(4, 100000); // many rotations later
  f.advanceTo(50);
  CHECK(f.firedIds() == std::vector<int>{1});
  for (uint64_t t = 60; t < 850; t += 10) f.advanceTo(t);
  CHECK(f.log.size() == 1);
  f.advanceTo(850);
  CHECK(f.firedIds() == std::vector<int>{1, 2});
  for (uint64_t t = 850; t < 1650; t += 50) f.advanceTo(t);
  CHECK(f.log.size() == 2);
  f.advanceTo(1650);
  CHECK(f.firedIds() == std::vector<int>{1, 2, 3});
  f.advanceTo(99999);
  CHECK(f.log.size() == 3);
  f.advanceTo(100000);
  CHECK(f.firedIds() == std::vector<int>{1, 2, 3, 4});
}

TEST_CASE("big jumps fire everything due, in order, and nothing else", "[timer_wheel]") {
  Fixture f(0, 50, 16);
  f.add(1, 5000);
  f.add(2, 20);
  f.add(3, 790);
  f.add(4, 12345);
  f.add(5, 801);
  f.add(6, 999999);
  f.advanceTo(12345);  // many rotations in one call
  CHECK(f.firedIds() == std::vector<int>{2, 3, 5, 1, 4});
  CHECK(f.wheel.size() == 1);
  CHECK(f.wheel.nextDueMs() == uint64_t{1000000});
  f.advanceTo(UINT64_MAX);
  CHECK(f.firedIds() == std::vector<int>{2, 3, 5, 1, 4, 6});
}

TEST_CASE("time going backwards fires only what is due at that time", "[timer_wheel]") {
  Fixture f(1000, 50, 16);
  f.add(1, 1100);
  f.add(2, 1300);
  f.advanceTo(1200);
  CHECK(f.firedIds() == std::vector<int>{1});
  f.add(3, 1150);  // past the latest advance
  f.advanceTo(1100);  // earlier than before
  CHECK(f.firedIds() == std::vector<int>{1});
  f.advanceTo(1150);
  CHECK(f.firedIds() == std::vector<int>{1, 3});
  f.advanceTo(1300);
  CHECK(f.firedIds() == std::vector<int>{1, 3, 2});
}

TEST_CASE("nextDueMs gives the tick boundary at which the earliest node fires", "[timer_wheel]") {
  Fixture f(1000, 50, 16);
  CHECK_FALSE(f.wheel.nextDueMs());
  f.add(1, 1234);
  CHECK(f.wheel.nextDueMs() == uint64_t{1250});
  f.add(2, 1200);
  CHECK(f.wheel.nextDueMs() == uint64_t{1200});
  f.add(3, 1000 + 800 * 3 + 10);  // far: shares no boundary with the others
  CHECK(f.wheel.nextDueMs() == uint64_t{1200});
  f.advanceTo(1200);
  CHECK(f.wheel.nextDueMs() == uint64_t{1250});
  f.advanceTo(1250);
  CHECK(f.firedIds() == std::vector<int>{2, 1});
  // Only the far node is left: found although it is several rotations away.
  CHECK(f.wheel.nextDueMs() == uint64_t{3450});
  f.advanceTo(3409);
  CHECK(f.log.size() == 2);
  f.advanceTo(3410);
  CHECK(f.log.size() == 3);
  CHECK_FALSE(f.wheel.nextDueMs());
}

TEST_CASE("many nodes with random deadlines: each fires once, in order, never early", "[timer_wheel]") {
  Fixture f(0, 50, 64);
  std::mt19937_64 rng(12345);
  constexpr int kCount = 20000;
  std::vector<uint64_t> deadlines(kCount);
  for (int i = 0; i < kCount; ++i) {
    deadlines[i] = rng() % 60000;
    f.add(i, deadlines[i]);
  }
  // Cancel every tenth node.
  for (int i = 0; i < kCount; i += 10) f.wheel.cancel(f.timers[i]->node);
  CHECK(f.wheel.size() == kCount - kCount / 10);

  // Drive the wheel the way the loop would: jump to nextDueMs or by random steps.
  uint64_t t = 0;
  while (f.wheel.size() > 0) {
    const auto next = f.wheel.nextDueMs();
    REQUIRE(next.has_value());
    t = (rng() % 2 == 0) ? std::max(t, *next) : t + rng() % 700;
    const size_t before = f.log.size();
    f.advanceTo(t);
    if (*next <= t) REQUIRE(f.log.size() > before);  // arming at nextDueMs always makes progress
  }
  REQUIRE(f.log.size() == static_cast<size_t>(kCount - kCount / 10));
  std::vector<int> seen(kCount, 0);
  uint64_t lastDeadline = 0;
  uint64_t lastAt = 0;
  bool ordered = true;
  for (const auto& e : f.log) {
    ++seen[e.id];
    CHECK(e.id % 10 != 0);
    // Within one advance deadlines ascend; across advances they are never earlier than the advance time allows.
    if (e.atMs == lastAt && deadlines[e.id] < lastDeadline) ordered = false;
    lastDeadline = deadlines[e.id];
    lastAt = e.atMs;
  }
  CHECK(ordered);
  for (int i = 0; i < kCount; ++i) CHECK(seen[i] == (i % 10 == 0 ? 0 : 1));
}

TEST_CASE("constructor rejects a zero tick or slot count; destruction detaches nodes", "[timer_wheel]") {
  CHECK_THROWS_AS(TimerWheel(0, 0, 16), std::invalid_argument);
  CHECK_THROWS_AS(TimerWheel(0, 50, 0), std::invalid_argument);
  TimerNode node;
  {
    TimerWheel wheel(0, 50, 4);
    wheel.schedule(node, 1000);
    CHECK(node.scheduled());
  }
  CHECK_FALSE(node.scheduled());
  CHECK(sizeof(TimerNode) == 32);  // embedded in every connection: keep it small
}

TEST_CASE("a 1 ms tick survives a jump to the end of time", "[timer_wheel]") {
  Fixture f(0, 1, 8);
  f.add(1, 3);
  f.add(2, UINT64_MAX);
  f.advanceTo(UINT64_MAX);
  CHECK(f.firedIds() == std::vector<int>{1, 2});
  CHECK(f.wheel.size() == 0);
}
