// The read cursors of sub replies (frontend/read_sub_cursors.h): the table of sub requests in
// flight, and the wait each join makes (a coroutine resumed when the fetch ends, or at its deadline).
#include <catch2/catch.hpp>

#include "frontend/read_sub_cursors.h"

using namespace webim;

TEST_CASE("a sub request's entry lives until each of its channels is answered", "[read_sub_cursors]") {
  SubCursorTable table;
  auto entry = table.start(7, 1, 2, 1000);
  REQUIRE(entry);
  CHECK(entry->unanswered == 2);
  CHECK_FALSE(table.start(7, 1, 5, 1000));  // the same id again: no cursors for it
  CHECK(table.start(8, 1, 1, 1000));        // another connection
  CHECK(table.find(7, 1) == entry);
  table.answered(7, 1);
  CHECK(table.find(7, 1) == entry);
  table.answered(7, 1);
  CHECK_FALSE(table.find(7, 1));
  table.answered(7, 1);  // unknown: nothing
  CHECK(table.size() == 1);
}

TEST_CASE("entries of closed connections are swept after kMaxAgeMs", "[read_sub_cursors]") {
  SubCursorTable table;
  REQUIRE(table.start(1, 1, 1, 0));
  REQUIRE(table.start(2, 1, 1, SubCursorTable::kMaxAgeMs / 2));
  REQUIRE(table.start(3, 1, 1, SubCursorTable::kMaxAgeMs + 1));
  CHECK_FALSE(table.find(1, 1));
  CHECK(table.find(2, 1));
  CHECK(table.find(3, 1));
}

namespace {

// A minimal coroutine that records how its wait ended.
struct Probe {
  struct promise_type {
    Probe get_return_object() { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() {}
    void unhandled_exception() { std::terminate(); }
  };
};

Probe waitFor(std::shared_ptr<SubCursors> cursors, PendingOp*& owner, TimerWheel& wheel, uint64_t deadline,
              std::optional<WaitStatus>& out) {
  CursorWait wait(std::move(cursors), owner, wheel, deadline);
  out = co_await wait;
}

}  // namespace

TEST_CASE("joins wait for the fetch, or go on at their deadline, or at once when there is nothing to wait for",
          "[read_sub_cursors]") {
  TimerWheel wheel(0);
  PendingOp* owner = nullptr;
  std::optional<WaitStatus> none, done, late, early;
  waitFor(nullptr, owner, wheel, 1000, none);
  CHECK(none == WaitStatus::Done);  // no entry: ready at once

  auto cursors = std::make_shared<SubCursors>();
  waitFor(cursors, owner, wheel, 1000, done);
  waitFor(cursors, owner, wheel, 100, late);
  CHECK_FALSE(done);
  CHECK(cursors->waiters.size() == 2);
  wheel.advance(200);
  CHECK(late == WaitStatus::TimedOut);
  CHECK(cursors->waiters.size() == 1);
  finishSubCursors(*cursors);
  CHECK(done == WaitStatus::Done);
  CHECK(cursors->waiters.empty());
  CHECK(owner == nullptr);
  waitFor(cursors, owner, wheel, 1000, early);
  CHECK(early == WaitStatus::Done);  // the fetch already ended
}
