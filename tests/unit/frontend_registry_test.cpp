#include "broadcast/frontend_registry.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <set>
#include <string>

using webim::hub::FrontendRegistry;
using Admission = FrontendRegistry::Admission;
using namespace std::chrono_literals;

namespace {
// The hub's probe: which connections are still open.
struct Connections {
  std::set<std::string> open;
  int asked = 0;
  std::function<bool(std::string_view)> probe() {
    return [this](std::string_view routingId) {
      ++asked;
      return open.count(std::string(routingId)) > 0;
    };
  }
};
}  // namespace

TEST_CASE("a frontend id is admitted once, and again from the same boot", "[frontend_registry]") {
  FrontendRegistry registry(30s);
  Connections c;
  c.open = {"r1"};
  const auto t0 = FrontendRegistry::Clock::now();
  CHECK(registry.admit("fe1", 7, "r1", t0, c.probe()) == Admission::New);
  CHECK(registry.admit("fe1", 7, "r1", t0 + 1s, c.probe()) == Admission::Known);
  // The same process reconnected (a new connection): still the same boot.
  CHECK(registry.admit("fe1", 7, "r2", t0 + 2s, c.probe()) == Admission::Known);
  CHECK(registry.find("fe1")->routingId == "r2");
  CHECK(c.asked == 0);  // nothing to probe without a boot change
  CHECK(registry.owns("fe1", 7));
  CHECK_FALSE(registry.owns("fe1", 8));
  CHECK_FALSE(registry.owns("fe2", 7));
}

TEST_CASE("a second live process with the same id is refused; the first keeps it", "[frontend_registry]") {
  FrontendRegistry registry(30s);
  Connections c;
  c.open = {"r1", "r2"};
  const auto t0 = FrontendRegistry::Clock::now();
  REQUIRE(registry.admit("fe1", 7, "r1", t0, c.probe()) == Admission::New);
  CHECK(registry.admit("fe1", 9, "r2", t0 + 1s, c.probe()) == Admission::Conflict);
  CHECK(c.asked == 1);
  CHECK(registry.owns("fe1", 7));
  CHECK_FALSE(registry.owns("fe1", 9));
  // Refused again and again while the first one lives (and speaks).
  CHECK(registry.admit("fe1", 7, "r1", t0 + 2s, c.probe()) == Admission::Known);
  CHECK(registry.admit("fe1", 9, "r2", t0 + 3s, c.probe()) == Admission::Conflict);
}

TEST_CASE("a restarted instance replaces its old boot at once when the old connection is gone", "[frontend_registry]") {
  FrontendRegistry registry(30s);
  Connections c;
  c.open = {"r1"};
  const auto t0 = FrontendRegistry::Clock::now();
  REQUIRE(registry.admit("fe1", 7, "r1", t0, c.probe()) == Admission::New);
  c.open = {"r2"};  // the old process died (kill -9); the new one connected
  CHECK(registry.admit("fe1", 9, "r2", t0 + 100ms, c.probe()) == Admission::Replaced);
  CHECK(registry.owns("fe1", 9));
  CHECK_FALSE(registry.owns("fe1", 7));
  // The old boot cannot come back while the new one lives.
  c.open = {"r1", "r2"};
  CHECK(registry.admit("fe1", 7, "r1", t0 + 200ms, c.probe()) == Admission::Conflict);
}

TEST_CASE("a boot silent past the timeout is replaced without asking, and expired", "[frontend_registry]") {
  FrontendRegistry registry(30s);
  Connections c;
  c.open = {"r1", "r2"};
  const auto t0 = FrontendRegistry::Clock::now();
  REQUIRE(registry.admit("fe1", 7, "r1", t0, c.probe()) == Admission::New);
  CHECK(registry.admit("fe1", 9, "r2", t0 + 31s, c.probe()) == Admission::Replaced);
  CHECK(c.asked == 0);
  REQUIRE(registry.admit("fe2", 3, "r3", t0 + 31s, c.probe()) == Admission::New);
  CHECK(registry.expire(t0 + 60s).empty());
  std::vector<std::string> gone = registry.expire(t0 + 62s);
  std::sort(gone.begin(), gone.end());
  CHECK(gone == std::vector<std::string>{"fe1", "fe2"});
  CHECK(registry.size() == 0);
  // Forgotten: the next boot is new.
  CHECK(registry.admit("fe1", 7, "r1", t0 + 63s, c.probe()) == Admission::New);
}
