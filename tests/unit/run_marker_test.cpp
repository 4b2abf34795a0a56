#include <catch2/catch.hpp>

#include "broadcast/run_marker.h"

using namespace webim::hub;

TEST_CASE("run marker: a clean stop keeps the generation; anything else takes the fresh one; the namespaces are kept either way", "[run_marker]") {
  CHECK(runMarker(true, 0x1234, {}) == "clean 0000000000001234 ");
  CHECK(runMarker(false, 0xfedcba9876543210, {"room", "live"}) == "running fedcba9876543210 room,live");
  CHECK(runMarkerName("") == "run");
  CHECK(runMarkerName("s2") == "run/s2");

  RunStart first = startRun(std::nullopt, 77);
  CHECK(first.generation == 77);
  CHECK_FALSE(first.unclean);
  CHECK(first.namespaces.empty());
  RunStart clean = startRun(runMarker(true, 0xabc, {"room"}), 77);
  CHECK(clean.generation == 0xabc);
  CHECK_FALSE(clean.unclean);
  CHECK(clean.namespaces == std::vector<std::string>{"room"});
  RunStart crashed = startRun(runMarker(false, 0xabc, {"room", "live"}), 77);
  CHECK(crashed.generation == 77);
  CHECK(crashed.unclean);
  CHECK(crashed.namespaces == std::vector<std::string>{"room", "live"});
  CHECK(startRun(std::string("clean 0000000000000abc"), 77).generation == 0xabc);  // no namespace list
  for (const char* unreadable : {"clean", "clean 12", "clean 000000000000000g", "clean 0000000000000000", "bogus", ""}) {
    RunStart r = startRun(std::string(unreadable), 77);
    CHECK(r.generation == 77);
    CHECK(r.unclean);
  }
}
