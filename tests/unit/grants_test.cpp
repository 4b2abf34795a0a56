#include "frontend/grants.h"

#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

using namespace webim;

namespace {
using Patterns = std::vector<std::string>;
}

TEST_CASE("grant set keys: equal sets share a key", "[grants]") {
  CHECK(grantSetKey({"room:*", "pub:1"}, {"room:*"}) == grantSetKey({"room:*", "pub:1"}, {"room:*"}));
  CHECK(grantSetKey({}, {}) == grantSetKey({}, {}));
}

TEST_CASE("grant set keys: different sets never share a key, whatever the patterns hold", "[grants]") {
  // Each pair differs as grant sets; with separator-joined keys some of them collided (a pattern
  // holding the separator looks like two patterns, or moves a pattern from ch to pub).
  const std::vector<std::pair<Patterns, Patterns>> sets = {
      {{"room:a\nroom:b"}, {}},
      {{"room:a", "room:b"}, {}},
      {{"room:a"}, {"room:b"}},
      {{"room:a\n", std::string("\0room:b", 7)}, {}},
      {{"room:a\n"}, {"room:b"}},
      {{"room:a"}, {"room:b", ""}},
      {{"room:a"}, {"room:b\n"}},
      {{""}, {}},
      {{}, {""}},
      {{}, {}},
      {{"", ""}, {}},
      {{std::string("\0", 1)}, {}},
      {{"3:abc"}, {}},
      {{"abc"}, {}},
      {{"1:a", "b"}, {}},
      {{"1:a"}, {"b"}},
  };
  std::set<std::string> keys;
  for (const auto& [subscribe, publish] : sets) keys.insert(grantSetKey(subscribe, publish));
  CHECK(keys.size() == sets.size());
}
