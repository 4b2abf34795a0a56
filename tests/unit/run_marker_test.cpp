#include <catch2/catch.hpp>

#include "broadcast/run_marker.h"

using namespace webim::hub;

TEST_CASE("run marker: a clean stop keeps the generation; anything else takes the fresh one", "[run_marker]") {
  CHECK(runMarker(true, 0x1234) == "clean 0000000000001234");
  CHECK(runMarker(false, 0xfedcba9876543210) == "running fedcba9876543210");
  CHECK(runMarkerName("") == "run");
  CHECK(runMarkerName("s2") == "run/s2");

  RunStart first = startRun(std::nullopt, 77);
  CHECK(first.generation == 77);
  CHECK_FALSE(first.unclean);
  RunStart clean = startRun(runMarker(true, 0xabc), 77);
  CHECK(clean.generation == 0xabc);
  CHECK_FALSE(clean.unclean);
  RunStart crashed = startRun(runMarker(false, 0xabc), 77);
  CHECK(crashed.generation == 77);
  CHECK(crashed.unclean);
  for (const char* unreadable : {"clean", "clean 12", "clean 000000000000000g", "clean 0000000000000000", "bogus"}) {
    RunStart r = startRun(std::string(unreadable), 77);
    CHECK(r.generation == 77);
    CHECK(r.unclean);
  }
}
