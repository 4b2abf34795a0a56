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

TEST_CASE("a GrantsRef counts its set's holders, through copies and moves", "[grants]") {
  Grants grants;
  {
    GrantsRef a(&grants);
    CHECK(grants.holders == 1);
    GrantsRef b = a;
    CHECK(grants.holders == 2);
    GrantsRef c;
    CHECK_FALSE(c);
    c = b;
    CHECK(grants.holders == 3);
    c = GrantsRef();
    CHECK(grants.holders == 2);
    CHECK(b->subscribe.empty());
  }
  CHECK(grants.holders == 0);
  STATIC_REQUIRE(sizeof(GrantsRef) == sizeof(void*));  // paid by every authenticated connection
}

TEST_CASE("interned grant sets: equal sets are one, unused patterns do not tell sets apart", "[grants]") {
  GrantSets sets;
  GrantsRef a = sets.intern({"room:*", "user:42"}, {"room:*"});
  GrantsRef b = sets.intern({"room:*", "user:7"}, {"room:*", "pub:*"});  // both differences unused
  GrantsRef c = sets.intern({"room:*"}, {});
  CHECK(a.operator->() == b.operator->());
  CHECK(a->subscribe == Patterns{"room:*"});
  CHECK(a->publish == Patterns{"room:*"});
  CHECK(c.operator->() != a.operator->());
  CHECK(sets.size() == 2);
  CHECK(a->holders == 2);
}

TEST_CASE("interned grant sets nobody holds are freed once the table doubled", "[grants]") {
  GrantSets sets;
  GrantsRef kept = sets.intern({"room:kept"}, {});
  for (int i = 0; i < 63; ++i) sets.intern({"room:" + std::to_string(i)}, {});  // dropped at once
  CHECK(sets.size() == 64);
  GrantsRef next = sets.intern({"room:next"}, {});  // the 65th: a sweep first
  CHECK(sets.size() == 2);
  CHECK(kept->subscribe == Patterns{"room:kept"});
  GrantsRef again = sets.intern({"room:kept"}, {});
  CHECK(again.operator->() == kept.operator->());
}

TEST_CASE("grant sets: presence patterns are part of the set, and keys without them are as before", "[grants]") {
  CHECK(grantSetKey({"room:*"}, {"room:*"}, {}) == grantSetKey({"room:*"}, {"room:*"}));
  CHECK(grantSetKey({"room:*"}, {"room:*"}, {"p*"}) != grantSetKey({"room:*"}, {"room:*"}));
  CHECK(grantSetKey({"room:*"}, {}, {"p*"}) != grantSetKey({"room:*"}, {"1;2:p*"}));
  GrantSets sets;
  GrantsRef plain = sets.intern({"room:*"}, {"room:*"});
  GrantsRef watching = sets.intern({"room:*"}, {"room:*"}, {"p*"});
  GrantsRef again = sets.intern({"room:*"}, {"room:*"}, {"p*"});
  CHECK(sets.size() == 2);
  CHECK(plain->presence.empty());
  CHECK(watching->presence == Patterns{"p*"});
  CHECK(&*watching.operator->() == &*again.operator->());
}
