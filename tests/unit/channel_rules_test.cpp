#include "common/channel_rules.h"

#include <catch2/catch.hpp>

#include <string>

using namespace webim;

namespace {

TokenClaims claimsFor(std::string sub, std::vector<std::string> subscribe, std::vector<std::string> publish) {
  TokenClaims c;
  c.sub = std::move(sub);
  c.exp = 1;
  c.subscribe = std::move(subscribe);
  c.publish = std::move(publish);
  return c;
}

}  // namespace

TEST_CASE("isValidChannelName: [A-Za-z0-9_.:-]{1,128}", "[channel_rules]") {
  CHECK(isValidChannelName("room:7"));
  CHECK(isValidChannelName("a"));
  CHECK(isValidChannelName("AZaz09_.:-"));
  CHECK(isValidChannelName(std::string(128, 'x')));
  CHECK_FALSE(isValidChannelName(std::string(129, 'x')));
  CHECK_FALSE(isValidChannelName(""));
  CHECK_FALSE(isValidChannelName("room 7"));
  CHECK_FALSE(isValidChannelName("room/7"));
  CHECK_FALSE(isValidChannelName("room:*"));
  CHECK_FALSE(isValidChannelName("room:\xc3\xa9"));
  CHECK_FALSE(isValidChannelName(std::string("room:\0", 6)));
  CHECK_FALSE(isValidChannelName("room:7\n"));
}

TEST_CASE("channelKind classifies by prefix", "[channel_rules]") {
  CHECK(channelKind("user:42") == ChannelKind::User);
  CHECK(channelKind("dm:1:2") == ChannelKind::Dm);
  CHECK(channelKind("room:7") == ChannelKind::Room);
  CHECK(channelKind("pub:news") == ChannelKind::Pub);
  CHECK(channelKind("lobby") == ChannelKind::Other);
  CHECK(channelKind("users:42") == ChannelKind::Other);
  CHECK(channelKind("user") == ChannelKind::Other);
  CHECK(channelKind("room") == ChannelKind::Other);
  CHECK(channelKind("xroom:7") == ChannelKind::Other);
  CHECK(channelKind("") == ChannelKind::Other);
}

TEST_CASE("user:<id>: only the owner subscribes; publishing needs a pub grant", "[channel_rules]") {
  const TokenClaims owner = claimsFor("42", {}, {});
  CHECK(canSubscribe(owner, "user:42"));
  CHECK_FALSE(canSubscribe(owner, "user:43"));
  CHECK_FALSE(canSubscribe(owner, "user:420"));
  CHECK_FALSE(canSubscribe(owner, "user:4"));
  CHECK_FALSE(canPublish(owner, "user:42"));  // not even to one's own inbox without a grant
  CHECK_FALSE(canPublish(owner, "user:43"));

  // A subscribe grant never opens someone else's inbox.
  const TokenClaims greedy = claimsFor("42", {"*", "user:*", "user:43"}, {});
  CHECK_FALSE(canSubscribe(greedy, "user:43"));
  CHECK(canSubscribe(greedy, "user:42"));

  const TokenClaims notifier = claimsFor("bot", {}, {"user:*"});
  CHECK(canPublish(notifier, "user:43"));
  CHECK_FALSE(canSubscribe(notifier, "user:43"));
  const TokenClaims one = claimsFor("bot", {}, {"user:43"});
  CHECK(canPublish(one, "user:43"));
  CHECK_FALSE(canPublish(one, "user:44"));
}

TEST_CASE("dm:<a>:<b>: only a < b members, no grant needed", "[channel_rules]") {
  const TokenClaims alice = claimsFor("alice", {}, {});
  const TokenClaims bob = claimsFor("bob", {}, {});
  const TokenClaims carol = claimsFor("carol", {"*", "dm:*"}, {"*", "dm:*"});
  CHECK(canSubscribe(alice, "dm:alice:bob"));
  CHECK(canPublish(alice, "dm:alice:bob"));
  CHECK(canSubscribe(bob, "dm:alice:bob"));
  CHECK(canPublish(bob, "dm:alice:bob"));
  CHECK_FALSE(canSubscribe(carol, "dm:alice:bob"));  // grants do not open a dm
  CHECK_FALSE(canPublish(carol, "dm:alice:bob"));

  // Wrong order, equal ids, missing parts, extra ':' are not valid dm channels.
  CHECK_FALSE(canSubscribe(alice, "dm:bob:alice"));
  CHECK_FALSE(canPublish(bob, "dm:bob:alice"));
  CHECK_FALSE(canSubscribe(alice, "dm:alice:alice"));
  CHECK_FALSE(canSubscribe(alice, "dm:alice"));
  CHECK_FALSE(canSubscribe(alice, "dm:alice:"));
  CHECK_FALSE(canSubscribe(alice, "dm::alice"));
  CHECK_FALSE(canSubscribe(alice, "dm:alice:bob:x"));
  CHECK_FALSE(canPublish(alice, "dm:alice:bob:x"));
  CHECK_FALSE(canSubscribe(alice, "dm:"));

  // String order, not numeric: "10" < "9".
  const TokenClaims nine = claimsFor("9", {}, {});
  CHECK(canSubscribe(nine, "dm:10:9"));
  CHECK_FALSE(canSubscribe(nine, "dm:9:10"));
  // A prefix of an id is not the id.
  CHECK_FALSE(canSubscribe(claimsFor("ali", {}, {}), "dm:alice:bob"));
}

TEST_CASE("room:<id> and other names follow the grants", "[channel_rules]") {
  const TokenClaims rooms = claimsFor("42", {"room:*"}, {"room:7"});
  CHECK(canSubscribe(rooms, "room:7"));
  CHECK(canSubscribe(rooms, "room:8"));
  CHECK(canPublish(rooms, "room:7"));
  CHECK_FALSE(canPublish(rooms, "room:8"));
  CHECK_FALSE(canPublish(rooms, "room:70"));
  CHECK_FALSE(canSubscribe(rooms, "lobby"));

  const TokenClaims exact = claimsFor("42", {"room:7", "lobby"}, {"room:7", "lobby"});
  CHECK(canSubscribe(exact, "room:7"));
  CHECK_FALSE(canSubscribe(exact, "room:70"));
  CHECK_FALSE(canSubscribe(exact, "room:"));
  CHECK(canSubscribe(exact, "lobby"));
  CHECK(canPublish(exact, "lobby"));
  CHECK_FALSE(canSubscribe(exact, "lobby2"));

  const TokenClaims all = claimsFor("42", {"*"}, {"*"});
  CHECK(canSubscribe(all, "room:1"));
  CHECK(canSubscribe(all, "anything.else"));
  CHECK(canPublish(all, "room:1"));

  const TokenClaims none = claimsFor("42", {}, {});
  CHECK_FALSE(canSubscribe(none, "room:1"));
  CHECK_FALSE(canPublish(none, "room:1"));
}

TEST_CASE("pub:<id>: subscribe with a grant, never publish", "[channel_rules]") {
  const TokenClaims granted = claimsFor("42", {"pub:*"}, {"*"});
  CHECK(canSubscribe(granted, "pub:news"));
  CHECK_FALSE(canPublish(granted, "pub:news"));
  const TokenClaims exact = claimsFor("42", {"pub:news"}, {"pub:news"});
  CHECK(canSubscribe(exact, "pub:news"));
  CHECK_FALSE(canSubscribe(exact, "pub:sports"));
  CHECK_FALSE(canPublish(exact, "pub:news"));
  CHECK_FALSE(canSubscribe(claimsFor("42", {}, {}), "pub:news"));
}

TEST_CASE("invalid names and empty subjects are always refused", "[channel_rules]") {
  const TokenClaims all = claimsFor("42", {"*"}, {"*"});
  CHECK_FALSE(canSubscribe(all, ""));
  CHECK_FALSE(canPublish(all, ""));
  CHECK_FALSE(canSubscribe(all, "room:a b"));
  CHECK_FALSE(canPublish(all, "room:" + std::string(124, 'x')));  // 129 bytes
  CHECK(canPublish(all, "room:" + std::string(123, 'x')));        // 128 bytes
  CHECK_FALSE(canSubscribe(all, "room:*"));
  const TokenClaims anonymous = claimsFor("", {"*"}, {"*"});
  CHECK_FALSE(canSubscribe(anonymous, "room:1"));
  CHECK_FALSE(canSubscribe(anonymous, "user:"));
  CHECK_FALSE(canPublish(anonymous, "room:1"));
}

TEST_CASE("grant patterns the rules never consult can be dropped without changing an answer", "[channel_rules]") {
  CHECK_FALSE(subscribeGrantIsUsed("user:42"));
  CHECK_FALSE(subscribeGrantIsUsed("user:*"));
  CHECK_FALSE(subscribeGrantIsUsed("dm:*"));
  CHECK(subscribeGrantIsUsed("room:7"));
  CHECK(subscribeGrantIsUsed("pub:*"));
  CHECK(subscribeGrantIsUsed("*"));
  CHECK(subscribeGrantIsUsed("us*"));  // also matches "use.case", not only user: channels
  CHECK(publishGrantIsUsed("user:42"));
  CHECK_FALSE(publishGrantIsUsed("pub:*"));
  CHECK_FALSE(publishGrantIsUsed("dm:1:2"));
  CHECK(publishGrantIsUsed("p*"));

  const std::vector<std::string> patterns = {"user:42", "user:*", "user:4*", "dm:*", "dm:1:42", "room:7", "room:*",
                                             "pub:*", "pub:all", "*", "u*", "d*", "p*", "lobby", "us*"};
  const std::vector<std::string> channels = {"user:42", "user:7", "user:", "dm:1:42", "dm:42:7", "dm:1:2", "room:7",
                                             "room:8", "pub:all", "pub:x", "lobby", "use.case", "dmx", "pubs"};
  // Every subset of up to 3 patterns, as subscribe and as publish grants, for two users.
  for (size_t a = 0; a <= patterns.size(); ++a) {
    for (size_t b = a; b <= patterns.size(); ++b) {
      for (size_t c = b; c <= patterns.size(); ++c) {
        std::vector<std::string> grants;
        for (size_t i : {a, b, c}) {
          if (i < patterns.size()) grants.push_back(patterns[i]);
        }
        std::vector<std::string> usedSub = grants, usedPub = grants;
        std::erase_if(usedSub, [](const std::string& p) { return !subscribeGrantIsUsed(p); });
        std::erase_if(usedPub, [](const std::string& p) { return !publishGrantIsUsed(p); });
        for (const char* user : {"42", "7"}) {
          for (const std::string& ch : channels) {
            INFO("user " << user << " channel " << ch << " grants " << grants.size());
            CHECK(canSubscribe(user, grants, ch) == canSubscribe(user, usedSub, ch));
            CHECK(canPublish(user, grants, ch) == canPublish(user, usedPub, ch));
          }
        }
      }
    }
  }
}
