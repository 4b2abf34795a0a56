#include "broadcast/hub_request.h"

#include <catch2/catch.hpp>

#include "common/client_request.h"
#include "proto/webim.pb.h"

using namespace webim;
using namespace webim::hub;

namespace {

constexpr size_t kMaxData = 1024;
constexpr size_t kMaxRequest = kMaxData + 4096;

HubRequestDecoder makeDecoder(ShardScope scope = {}) { return HubRequestDecoder(kMaxData, kMaxRequest, std::move(scope)); }

// Two shards: hub0 owns slots 0-511 ("room:1" is slot 144, "user:42" 390), hub1 the rest ("a" is 579).
ShardScope secondShard() {
  std::string error;
  auto map = SlotMap::parse(R"({"shards":[{"name":"hub0","slots":"0-511"},{"name":"hub1","slots":"512-1023"}]})", error);
  REQUIRE(map);
  return ShardScope{std::make_shared<const SlotMap>(std::move(*map)), 1, "hub1"};
}

DecodedRequest decodeFrontend(const wire::FrontendRequest& request, ShardScope scope = {}) {
  HubRequestDecoder decoder = makeDecoder(std::move(scope));
  return decoder.decodeFrontend(request.SerializeAsString());
}

template <class T>
T as(const HubRequest& request) {
  if (const auto* error = std::get_if<RequestError>(&request)) INFO(error->code + ": " + error->message);
  REQUIRE(std::holds_alternative<T>(request));
  return std::get<T>(request);
}

RequestError errorOf(const HubRequest& request) { return as<RequestError>(request); }

wire::FrontendRequest publishRequest(std::string channel, std::string data = R"({"t":1})") {
  wire::FrontendRequest request;
  request.set_req_id(7);
  wire::Publish* pub = request.mutable_publish();
  pub->set_channel(std::move(channel));
  pub->set_from("alice");
  pub->set_cid("c1");
  pub->set_data(std::move(data));
  return request;
}

}  // namespace

TEST_CASE("a frontend publish decodes with its req_id, moved out whole", "[hub_request]") {
  DecodedRequest d = decodeFrontend(publishRequest("room:1"));
  CHECK(d.form == ReplyForm::Frontend);
  CHECK(d.reqId == 7);
  PublishRequest p = as<PublishRequest>(d.request);
  CHECK(p.input.channel == "room:1");
  CHECK(p.input.from == "alice");
  CHECK(p.input.cid == "c1");
  CHECK(p.input.data == R"({"t":1})");
}

TEST_CASE("a frontend publish is checked field by field", "[hub_request]") {
  CHECK(errorOf(decodeFrontend(publishRequest("bad channel")).request).code == "bad_request");
  CHECK(errorOf(decodeFrontend(publishRequest("room:1", "")).request).message == "data is required");
  RequestError large = errorOf(decodeFrontend(publishRequest("room:1", std::string(kMaxData + 1, 'x'))).request);
  CHECK(large.code == "too_large");
  CHECK(large.message == "data too large");
  wire::FrontendRequest noFrom = publishRequest("room:1");
  noFrom.mutable_publish()->clear_from();
  CHECK(errorOf(decodeFrontend(noFrom).request).message == "invalid from");
  wire::FrontendRequest nulFrom = publishRequest("room:1");
  nulFrom.mutable_publish()->set_from(std::string("a\0b", 3));
  CHECK(errorOf(decodeFrontend(nulFrom).request).message == "invalid from");
  wire::FrontendRequest longCid = publishRequest("room:1");
  longCid.mutable_publish()->set_cid(std::string(kMaxCidBytes + 1, 'c'));
  CHECK(errorOf(decodeFrontend(longCid).request).message == "cid too long");
}

TEST_CASE("a channel of another shard is wrong_shard, naming its owner", "[hub_request]") {
  RequestError e = errorOf(decodeFrontend(publishRequest("room:1"), secondShard()).request);
  CHECK(e.code == "wrong_shard");
  CHECK(e.message == "channel room:1 (slot 144) belongs to shard hub0, not hub1");
  CHECK(std::holds_alternative<PublishRequest>(decodeFrontend(publishRequest("a"), secondShard()).request));
  // An invalid name is bad_request even when it hashes to another shard.
  CHECK(errorOf(decodeFrontend(publishRequest("room 1"), secondShard()).request).code == "bad_request");
}

TEST_CASE("a frontend history request gets the default limit and its bounds", "[hub_request]") {
  wire::FrontendRequest request;
  request.mutable_history()->set_channel("room:1");
  request.mutable_history()->set_before(9);
  HistoryRequest h = as<HistoryRequest>(decodeFrontend(request).request);
  CHECK(h.channel == "room:1");
  CHECK(h.before == 9);
  CHECK(h.after == 0);
  CHECK(h.limit == kDefaultHistLimit);

  request.mutable_history()->set_after(3);
  CHECK(errorOf(decodeFrontend(request).request).message == "before and after both set");
  request.mutable_history()->set_after(0);
  request.mutable_history()->set_limit(kMaxHistLimit + 1);
  CHECK(errorOf(decodeFrontend(request).request).message == "limit too large");
  request.mutable_history()->set_limit(kMaxHistLimit);
  CHECK(as<HistoryRequest>(decodeFrontend(request).request).limit == kMaxHistLimit);
  request.mutable_history()->set_channel("");
  CHECK(errorOf(decodeFrontend(request).request).message == "invalid channel name");
  request.mutable_history()->set_channel("room:1");
  CHECK(errorOf(decodeFrontend(request, secondShard()).request).code == "wrong_shard");
}

TEST_CASE("hello names the frontend and its process", "[hub_request]") {
  wire::FrontendRequest request;
  request.set_req_id(3);
  request.mutable_hello()->set_frontend_id("fe1");
  request.mutable_hello()->set_boot_id(0xabcdef);
  HelloRequest hello = as<HelloRequest>(decodeFrontend(request).request);
  CHECK(hello.frontendId == "fe1");
  CHECK(hello.boot == 0xabcdef);
  request.mutable_hello()->clear_frontend_id();
  CHECK(errorOf(decodeFrontend(request).request).message == "frontend_id is required");
}

TEST_CASE("a frontend kick is checked: user, close code, reason", "[hub_request]") {
  wire::FrontendRequest request;
  wire::Kick* kick = request.mutable_kick();
  kick->set_user("bob");
  kick->set_code(4003);
  kick->set_reason("bye");
  KickRequest k = as<KickRequest>(decodeFrontend(request).request);
  CHECK(k.user == "bob");
  CHECK(k.code == 4003);
  CHECK(k.reason == "bye");
  kick->set_code(3999);
  CHECK(errorOf(decodeFrontend(request).request).message == "code must be 4000..4999");
  kick->set_code(5000);
  CHECK(errorOf(decodeFrontend(request).request).code == "bad_request");
  kick->set_code(4999);
  kick->set_reason(std::string(kMaxKickReasonBytes + 1, 'r'));
  CHECK(errorOf(decodeFrontend(request).request).message == "reason is too long");
  kick->set_reason("");
  kick->clear_user();
  CHECK(errorOf(decodeFrontend(request).request).message == "user is required");
}

TEST_CASE("revocations carry their since", "[hub_request]") {
  wire::FrontendRequest request;
  request.mutable_revocations()->set_since_ms(1234);
  CHECK(as<RevocationsRequest>(decodeFrontend(request).request).sinceMs == 1234);
}

TEST_CASE("attach checks every user's inbox, and the shard that owns it", "[hub_request]") {
  wire::FrontendRequest request;
  wire::Attach* attach = request.mutable_attach();
  attach->set_frontend_id("fe1");
  attach->set_boot_id(5);
  attach->add_users("42");
  attach->add_users("43");
  AttachRequest a = as<AttachRequest>(decodeFrontend(request).request);
  CHECK(a.frontendId == "fe1");
  CHECK(a.boot == 5);
  CHECK(a.users == std::vector<std::string>{"42", "43"});

  RequestError foreign = errorOf(decodeFrontend(request, secondShard()).request);
  CHECK(foreign.code == "wrong_shard");
  CHECK(foreign.message.find("user:42") != std::string::npos);
  attach->add_users("no spaces");
  CHECK(errorOf(decodeFrontend(request).request).message == "invalid user id");
  attach->clear_frontend_id();
  CHECK(errorOf(decodeFrontend(request).request).message == "frontend_id is required");
}

TEST_CASE("detach is its own request, not a hello", "[hub_request]") {
  wire::FrontendRequest request;
  wire::Detach* detach = request.mutable_detach();
  detach->set_frontend_id("fe1");
  detach->set_boot_id(5);
  detach->add_users("42");
  DecodedRequest d = decodeFrontend(request);
  CHECK(d.reqId == 0);
  DetachRequest detached = as<DetachRequest>(d.request);
  CHECK(detached.frontendId == "fe1");
  CHECK(detached.boot == 5);
  CHECK(detached.users == std::vector<std::string>{"42"});
}

TEST_CASE("an app call relayed by a frontend decodes like the app ingress, answered in app JSON", "[hub_request]") {
  wire::FrontendRequest request;
  request.set_req_id(11);
  request.mutable_app()->set_op("pub");
  request.mutable_app()->set_json(R"({"ch":"room:1","data":[1,2]})");
  DecodedRequest d = decodeFrontend(request);
  CHECK(d.form == ReplyForm::AppViaFrontend);
  CHECK(d.reqId == 11);
  PublishRequest p = as<PublishRequest>(d.request);
  CHECK(p.input.channel == "room:1");
  CHECK(p.input.from == kDefaultAppSender);
  CHECK(p.input.data == "[1,2]");

  request.mutable_app()->set_json(R"({"op":"hist","ch":"room:1"})");
  CHECK(errorOf(decodeFrontend(request).request).code == "bad_request");  // the body's op differs
  CHECK(decodeFrontend(request).form == ReplyForm::AppViaFrontend);
}

TEST_CASE("malformed frontend requests: not protobuf, empty, oversized", "[hub_request]") {
  HubRequestDecoder decoder = makeDecoder();
  DecodedRequest garbage = decoder.decodeFrontend("\xff\xff\xff\xff");
  CHECK(errorOf(garbage.request).message == "not a FrontendRequest");
  CHECK(garbage.reqId == 0);

  wire::FrontendRequest empty;
  empty.set_req_id(4);
  DecodedRequest none = decoder.decodeFrontend(empty.SerializeAsString());
  CHECK(errorOf(none.request).message == "empty request");
  CHECK(none.reqId == 4);

  // Too large is answered (with the req_id) before anything else is looked at.
  wire::FrontendRequest big = publishRequest("bad channel", std::string(kMaxRequest, 'x'));
  DecodedRequest large = decoder.decodeFrontend(big.SerializeAsString());
  CHECK(errorOf(large.request).code == "too_large");
  CHECK(large.reqId == 7);
  CHECK(large.form == ReplyForm::Frontend);
}

TEST_CASE("app ingress: each op decodes to its request", "[hub_request]") {
  HubRequestDecoder decoder = makeDecoder();
  PublishRequest p = as<PublishRequest>(decoder.decodeApp(R"({"op":"pub","ch":"room:1","data":"x","cid":"k"})"));
  CHECK(p.input.channel == "room:1");
  CHECK(p.input.cid == "k");
  CHECK(p.input.data == R"("x")");
  HistoryRequest h = as<HistoryRequest>(decoder.decodeApp(R"({"op":"hist","ch":"room:1","after":4,"limit":7})"));
  CHECK(h.after == 4);
  CHECK(h.limit == 7);
  KickRequest k = as<KickRequest>(decoder.decodeApp(R"({"op":"kick","user":"bob","reason":"r"})"));
  CHECK(k.user == "bob");
  CHECK(k.code == 4003);
  CHECK(k.reason == "r");
  CHECK(std::holds_alternative<StatsRequest>(decoder.decodeApp(R"({"op":"stats"})")));
}

TEST_CASE("app ingress: malformed, unknown and oversized requests are errors", "[hub_request]") {
  HubRequestDecoder decoder = makeDecoder();
  CHECK(errorOf(decoder.decodeApp("not json")).code == "bad_request");
  CHECK(errorOf(decoder.decodeApp(R"({"op":"nope"})")).code == "bad_request");
  CHECK(errorOf(decoder.decodeApp(R"({"op":"pub","ch":"room:1"})")).code == "bad_request");  // no data
  CHECK(errorOf(decoder.decodeApp(R"({"op":"kick"})")).code == "bad_request");              // no user
  RequestError large = errorOf(decoder.decodeApp(std::string(kMaxRequest + 1, ' ')));
  CHECK(large.code == "too_large");
  CHECK(large.message == "request of " + std::to_string(kMaxRequest + 1) + " bytes; this hub answers at most " +
                             std::to_string(kMaxRequest));
  HubRequestDecoder sharded = makeDecoder(secondShard());
  CHECK(errorOf(sharded.decodeApp(R"({"op":"pub","ch":"room:1","data":1})")).code == "wrong_shard");
  CHECK(errorOf(sharded.decodeApp(R"({"op":"hist","ch":"room:1"})")).code == "wrong_shard");
  // Kicks and stats go to any hub.
  CHECK(std::holds_alternative<KickRequest>(sharded.decodeApp(R"({"op":"kick","user":"bob"})")));
  CHECK(std::holds_alternative<StatsRequest>(sharded.decodeApp(R"({"op":"stats"})")));
}

// The decoder parses every FrontendRequest on one arena that it resets before the next: what it
// returned must own its bytes, whatever came after it (a request larger than the arena's first
// block included).
TEST_CASE("requests decoded one after another by one decoder stay whole", "[hub_request]") {
  HubRequestDecoder decoder = makeDecoder();
  const std::string bigData(kMaxData, 'd');  // past the inline buffer of a std::string
  DecodedRequest first = decoder.decodeFrontend(publishRequest("room:first-channel-name", bigData).SerializeAsString());
  wire::FrontendRequest attach;
  attach.set_req_id(8);
  attach.mutable_attach()->set_frontend_id("fe-with-a-long-identifier");
  for (int i = 0; i < 100; ++i) attach.mutable_attach()->add_users("user-with-a-long-name-" + std::to_string(i));
  DecodedRequest second = decoder.decodeFrontend(attach.SerializeAsString());
  DecodedRequest third = decoder.decodeFrontend(publishRequest("room:3", "x").SerializeAsString());

  const PublishRequest p1 = as<PublishRequest>(first.request);
  CHECK(p1.input.channel == "room:first-channel-name");
  CHECK(p1.input.from == "alice");
  CHECK(p1.input.data == bigData);
  const AttachRequest a = as<AttachRequest>(second.request);
  CHECK(second.reqId == 8);
  CHECK(a.frontendId == "fe-with-a-long-identifier");
  REQUIRE(a.users.size() == 100);  // 100 string objects: more than the arena's first block
  CHECK(a.users.front() == "user-with-a-long-name-0");
  CHECK(a.users.back() == "user-with-a-long-name-99");
  const PublishRequest p3 = as<PublishRequest>(third.request);
  CHECK(p3.input.channel == "room:3");
  CHECK(p3.input.data == "x");
  CHECK(errorOf(decoder.decodeFrontend("\xff\xff not protobuf").request).code == "bad_request");
  CHECK(as<PublishRequest>(decoder.decodeFrontend(publishRequest("room:4").SerializeAsString()).request).input.channel ==
        "room:4");
}
