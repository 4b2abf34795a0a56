#include "common/failpoint.h"

#include <catch2/catch.hpp>

using webim::Failpoints;

TEST_CASE("failpoints fire as many times as asked, or always", "[failpoint]") {
  std::string error;
  std::optional<Failpoints> points = Failpoints::parse("a=2,b,,c=1", error);
  REQUIRE(points);
  CHECK(points->fire("a"));
  CHECK(points->fire("a"));
  CHECK_FALSE(points->fire("a"));
  for (int i = 0; i < 5; ++i) CHECK(points->fire("b"));
  CHECK(points->fire("c"));
  CHECK_FALSE(points->fire("c"));
  CHECK_FALSE(points->fire("unknown"));
}

TEST_CASE("a malformed failpoint list is refused with a reason", "[failpoint]") {
  std::string error;
  CHECK_FALSE(Failpoints::parse("a=0", error));
  CHECK(error.find("positive") != std::string::npos);
  CHECK_FALSE(Failpoints::parse("a=x", error));
  CHECK_FALSE(Failpoints::parse("=3", error));
  CHECK(Failpoints::parse("", error)->empty());
}
