// User presence, the pure parts (docs/architecture.md "Presence"): settling after a hub start, the
// hub's decoding of an OnlineQuery, the client's `online` request, the token's "presence" claim and
// its place in an interned grant set.
#include <catch2/catch.hpp>

#include "broadcast/hub_request.h"
#include "broadcast/presence_settling.h"
#include "common/client_request.h"
#include "common/token.h"
#include "proto/webim.pb.h"

using namespace webim;
using namespace webim::hub;

TEST_CASE("settling: the window passes, and every frontend seen in it said synced", "[presence]") {
  PresenceSettling s(0, 1000, 10000);
  s.seen("fe1", 100);
  s.seen("fe2", 200);
  CHECK(s.settling(500));     // within the window
  s.synced("fe1");
  CHECK(s.settling(1500));    // the window is over, fe2 has not said synced
  CHECK(s.waitingFor() == 1);
  s.seen("fe3", 1200);        // first seen after the window: a new frontend, not waited for
  CHECK(s.waitingFor() == 1);
  s.synced("fe2");
  CHECK_FALSE(s.settling(1600));
  s.seen("fe4", 1700);        // once settled, it stays settled
  CHECK_FALSE(s.settling(1700));
}

TEST_CASE("settling: a frontend synced before its hello is not waited for; the bound ends it", "[presence]") {
  PresenceSettling s(0, 1000, 5000);
  s.synced("fe1");
  s.seen("fe1", 300);
  CHECK(s.waitingFor() == 0);
  CHECK(s.settling(999));
  CHECK_FALSE(s.settling(1000));

  PresenceSettling stuck(0, 1000, 5000);
  stuck.seen("fe1", 10);
  CHECK(stuck.settling(4999));
  CHECK_FALSE(stuck.settling(5000));  // fe1 never finished: bounded by max
}

TEST_CASE("hub: an OnlineQuery names 1..500 valid user ids of this shard", "[presence]") {
  HubRequestDecoder decoder(1024, 8192, ShardScope{});
  auto decode = [&](const std::vector<std::string>& users) {
    wire::FrontendRequest request;
    request.set_req_id(9);
    for (const std::string& u : users) request.mutable_online()->add_users(u);
    return decoder.decodeFrontend(request.SerializeAsString());
  };
  DecodedRequest ok = decode({"7", "9"});
  REQUIRE(std::holds_alternative<OnlineRequest>(ok.request));
  CHECK(std::get<OnlineRequest>(ok.request).users == std::vector<std::string>{"7", "9"});
  CHECK(ok.reqId == 9);
  CHECK(std::get<RequestError>(decode({}).request).code == "bad_request");
  CHECK(std::get<RequestError>(decode({"bad id"}).request).code == "bad_request");
  CHECK(std::holds_alternative<OnlineRequest>(decode(std::vector<std::string>(500, "u")).request));
  CHECK(std::get<RequestError>(decode(std::vector<std::string>(501, "u")).request).code == "too_large");

  std::string error;
  auto map = SlotMap::parse(R"({"shards":[{"name":"hub0","slots":"0-511"},{"name":"hub1","slots":"512-1023"}]})", error);
  REQUIRE(map);
  HubRequestDecoder second(1024, 8192, ShardScope{std::make_shared<const SlotMap>(std::move(*map)), 1, "hub1"});
  wire::FrontendRequest request;
  request.mutable_online()->add_users("42");  // user:42 is slot 390: hub0's
  CHECK(std::get<RequestError>(second.decodeFrontend(request.SerializeAsString()).request).code == "wrong_shard");
}

TEST_CASE("hub: Attach.synced is decoded", "[presence]") {
  HubRequestDecoder decoder(1024, 8192, ShardScope{});
  wire::FrontendRequest request;
  request.mutable_attach()->set_frontend_id("fe1");
  request.mutable_attach()->set_synced(true);
  DecodedRequest decoded = decoder.decodeFrontend(request.SerializeAsString());
  REQUIRE(std::holds_alternative<AttachRequest>(decoded.request));
  CHECK(std::get<AttachRequest>(decoded.request).synced);
  CHECK(std::get<AttachRequest>(decoded.request).users.empty());
}

TEST_CASE("client: online takes users, 1..500 strings", "[presence]") {
  RequestDecoder decoder;
  ClientRequest r;
  REQUIRE(decoder.decode(R"({"op":"online","id":3,"users":["7","a\u0062"]})", r).ok());
  CHECK(r.op == ClientOp::Online);
  REQUIRE(r.users.size() == 2);
  CHECK(r.users[0] == "7");
  CHECK(r.users[1] == "ab");
  CHECK_FALSE(decoder.decode(R"({"op":"online","id":3})", r).ok());
  CHECK_FALSE(decoder.decode(R"({"op":"online","id":3,"users":[]})", r).ok());
  CHECK_FALSE(decoder.decode(R"({"op":"online","id":3,"users":"7"})", r).ok());
  CHECK_FALSE(decoder.decode(R"({"op":"online","id":3,"users":[7]})", r).ok());
  CHECK_FALSE(decoder.decode(R"({"op":"online","id":3,"users":[{"u":1}]})", r).ok());
  CHECK_FALSE(decoder.decode(R"({"op":"online","id":3,"users":["1"],"users":["2"]})", r).ok());
  std::string many = R"({"op":"online","id":3,"users":[)";
  for (int i = 0; i < 501; ++i) many += (i ? ",\"" : "\"") + std::to_string(i) + "\"";
  DecodeError e = decoder.decode(many + "]}", r);
  CHECK(e.tooLarge);
  CHECK(r.id == 3);
}

TEST_CASE("token: the presence claim is read, checked and issued", "[presence]") {
  const std::string secret(32, 's');
  TokenVerifier verifier({secret});
  TokenClaims claims;
  claims.sub = "7";
  claims.exp = 2000;
  claims.presence = {"p*", "9"};
  TokenResult result = verifier.verify(issueToken(claims, secret), 1000);
  REQUIRE(result.error == TokenError::None);
  CHECK(result.claims.presence == std::vector<std::string>{"p*", "9"});
  claims.presence.clear();
  CHECK(verifier.verify(issueToken(claims, secret), 1000).claims.presence.empty());
  claims.presence = {"bad pattern"};
  CHECK(verifier.verify(issueToken(claims, secret), 1000).error == TokenError::BadGrant);
}

TEST_CASE("token: the watch claim holds up to 1,000 valid user ids", "[presence][watch]") {
  const std::string secret(32, 's');
  TokenVerifier verifier({secret});
  TokenClaims claims;
  claims.sub = "7";
  claims.exp = 2000;
  for (int i = 0; i < 1000; ++i) claims.watch.push_back(std::to_string(1000000 + i));
  TokenResult result = verifier.verify(issueToken(claims, secret), 1000);
  REQUIRE(result.error == TokenError::None);
  CHECK(result.claims.watch.size() == 1000);
  claims.watch.push_back("1");
  CHECK(verifier.verify(issueToken(claims, secret), 1000).error == TokenError::BadWatch);
  claims.watch = {"a b"};  // user:a b is no channel
  CHECK(verifier.verify(issueToken(claims, secret), 1000).error == TokenError::BadWatch);
  CHECK(std::string(toString(TokenError::BadWatch)).find("watch") != std::string::npos);
}

TEST_CASE("app: online takes 1..500 user ids and is checked like a frontend's query", "[presence]") {
  HubRequestDecoder decoder(1024, 65536, ShardScope{});
  HubRequest ok = decoder.decodeApp(R"({"op":"online","users":["7","9"],"x":[{"op":"y"}]})");
  REQUIRE(std::holds_alternative<OnlineRequest>(ok));
  CHECK(std::get<OnlineRequest>(ok).users == std::vector<std::string>{"7", "9"});
  CHECK(std::holds_alternative<OnlineRequest>(decoder.decodeApp(R"({"users":["7"]})", "online")));
  CHECK(std::get<RequestError>(decoder.decodeApp(R"({"op":"online","users":[]})")).code == "bad_request");
  CHECK(std::get<RequestError>(decoder.decodeApp(R"({"op":"online","users":[7]})")).code == "bad_request");
  CHECK(std::get<RequestError>(decoder.decodeApp(R"({"op":"online","users":["a b"]})")).code == "bad_request");
  std::string many = R"({"op":"online","users":[)";
  for (int i = 0; i < 501; ++i) many += (i ? ",\"" : "\"") + std::to_string(i) + "\"";
  CHECK(std::get<RequestError>(decoder.decodeApp(many + "]}")).code == "too_large");
  // "users" of another op is ignored, nested "op" keys included.
  CHECK(std::holds_alternative<StatsRequest>(decoder.decodeApp(R"({"op":"stats","users":[{"op":"pub"}]})")));
}
