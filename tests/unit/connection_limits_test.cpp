#include "frontend/connection_limits.h"

#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <string>

using namespace webim;

TEST_CASE("UserCounts caps each user's connections and forgets users with none", "[connection_limits]") {
  UserCounts counts;
  for (int i = 0; i < 32; ++i) CHECK(counts.tryAdd("alice", 32));
  CHECK_FALSE(counts.tryAdd("alice", 32));
  CHECK(counts.count("alice") == 32);
  CHECK(counts.tryAdd("bob", 32));
  counts.remove("alice");
  CHECK(counts.tryAdd("alice", 32));
  for (int i = 0; i < 32; ++i) counts.remove("alice");
  CHECK(counts.count("alice") == 0);
  CHECK(counts.users() == 1);
  counts.remove("nobody");  // harmless
  CHECK_FALSE(counts.tryAdd("carol", 0));
  CHECK(counts.users() == 1);
}

TEST_CASE("UserCounts matches a reference map through random churn, and shrinks back", "[connection_limits]") {
  UserCounts counts;
  std::map<std::string, uint32_t> reference;
  std::mt19937 random(42);
  for (int step = 0; step < 200000; ++step) {
    std::string user = std::to_string(1000000 + random() % 20000);
    if (random() % 3 != 0) {
      bool added = counts.tryAdd(user, 3);
      CHECK(added == (reference[user] < 3));
      if (added) ++reference[user];
    } else if (reference[user] > 0) {
      counts.remove(user);
      --reference[user];
    }
    if (step % 20000 == 0) {
      for (const auto& [u, n] : reference) REQUIRE(counts.count(u) == n);
    }
  }
  size_t live = 0;
  for (const auto& [u, n] : reference) {
    REQUIRE(counts.count(u) == n);
    live += n > 0;
  }
  CHECK(counts.users() == live);
  CHECK(counts.capacity() * 8 <= live * 8 * 4);  // 8 bytes a slot, load >= 0.25 after growth
  for (const auto& [u, n] : reference) {
    for (uint32_t i = 0; i < n; ++i) counts.remove(u);
  }
  CHECK(counts.users() == 0);
  CHECK(counts.capacity() <= 32);
}

TEST_CASE("addresses parse to one form for IPv4 and IPv6", "[connection_limits]") {
  CHECK(parseAddress("10.1.2.3"));
  CHECK(*parseAddress("10.1.2.3") == *parseAddress("::ffff:10.1.2.3"));
  CHECK(formatAddressKey(*parseAddress(" 10.1.2.3 ")) == "10.1.2.3");
  CHECK(formatAddressKey(*parseAddress("2001:db8::1")) == "2001:db8::1");
  CHECK_FALSE(parseAddress("10.1.2"));
  CHECK_FALSE(parseAddress("example.com"));
  CHECK_FALSE(parseAddress(""));
}

TEST_CASE("X-Forwarded-For is believed only from trusted proxies, rightmost untrusted first", "[connection_limits]") {
  TrustedProxies proxies;
  std::string error;
  REQUIRE(proxies.add("127.0.0.1", error));
  REQUIRE(proxies.add("10.0.0.0/8", error));
  REQUIRE(proxies.add("fd00::/8", error));
  CHECK_FALSE(proxies.add("10.0.0.0/33", error));
  CHECK_FALSE(proxies.add("proxy.local", error));
  const AddressKey lb = *parseAddress("10.9.9.9");
  const AddressKey outsider = *parseAddress("203.0.113.7");
  auto client = [&](const AddressKey& peer, std::optional<std::string_view> xff) {
    return formatAddressKey(proxies.clientAddress(peer, xff));
  };
  CHECK(client(lb, "198.51.100.1") == "198.51.100.1");
  // The client may send its own X-Forwarded-For: only what our proxies appended counts.
  CHECK(client(lb, "1.1.1.1, 198.51.100.1, 10.0.0.5") == "198.51.100.1");
  CHECK(client(lb, std::nullopt) == "10.9.9.9");
  CHECK(client(lb, "garbage") == "10.9.9.9");
  CHECK(client(outsider, "198.51.100.1") == "203.0.113.7");  // not a proxy of ours: ignored
  CHECK(client(*parseAddress("fd12::1"), "2001:db8::5") == "2001:db8::5");
  CHECK(client(*parseAddress("127.0.0.1"), "127.0.0.1") == "127.0.0.1");
}

TEST_CASE("AddressCounts caps connections per address", "[connection_limits]") {
  AddressCounts counts;
  const AddressKey a = *parseAddress("192.0.2.1");
  CHECK(counts.tryAdd(a, 2));
  CHECK(counts.tryAdd(a, 2));
  CHECK_FALSE(counts.tryAdd(a, 2));
  counts.remove(a);
  CHECK(counts.tryAdd(a, 2));
  CHECK(counts.count(a) == 2);
}

TEST_CASE("UserRateLimits: a bucket per user, refilled over time, idle ones pruned", "[connection_limits]") {
  UserRateLimits limits;
  for (int i = 0; i < 40; ++i) CHECK(limits.take("u", 1000, 20, 40));
  CHECK_FALSE(limits.take("u", 1000, 20, 40));
  CHECK(limits.take("v", 1000, 20, 40));  // others are not affected
  CHECK(limits.take("u", 1050, 20, 40));  // 50 ms at 20/s: one more
  CHECK_FALSE(limits.take("u", 1050, 20, 40));
  for (int i = 0; i < 5000; ++i) limits.take("user" + std::to_string(i), 2000, 20, 40);
  CHECK(limits.users() >= 5000);
  // Later, when the table has grown enough to be pruned, those that refilled long ago go.
  size_t most = 0;
  for (int i = 0; i < 4000; ++i) {
    limits.take("late" + std::to_string(i), 100000, 20, 40);
    most = std::max(most, limits.users());
  }
  CHECK(most <= 8192);
  CHECK(limits.users() == 4000);  // only the late ones: the others were full again
}
