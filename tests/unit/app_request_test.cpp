#include <catch2/catch.hpp>

#include "broadcast/app_request.h"

using namespace webim::hub;

namespace {

constexpr size_t kMaxData = 1024;

AppDecodeError decode(std::string_view json, AppRequest& out) {
  AppRequestDecoder decoder(kMaxData);
  return decoder.decode(json, out);
}

AppPublish decodePub(std::string_view json) {
  AppRequest req;
  auto err = decode(json, req);
  INFO(err.message);
  REQUIRE(err.ok());
  REQUIRE(std::holds_alternative<AppPublish>(req));
  return std::get<AppPublish>(req);
}

std::string errorCode(std::string_view json) {
  AppRequest req;
  return decode(json, req).code;
}

}  // namespace

TEST_CASE("pub keeps data byte for byte", "[app_request]") {
  auto p = decodePub(R"({"op":"pub","ch":"room:7","data":{"b": 1,  "a":12345678901234567890, "s":"\u00e9"},"from":"php","cid":"x1"})");
  CHECK(p.channel == "room:7");
  CHECK(p.from == "php");
  CHECK(p.cid == "x1");
  CHECK(p.data == R"({"b": 1,  "a":12345678901234567890, "s":"\u00e9"})");
}

TEST_CASE("pub data may be any JSON value", "[app_request]") {
  CHECK(decodePub(R"({"op":"pub","ch":"a","data":[1, 2 ,3]})").data == "[1, 2 ,3]");
  CHECK(decodePub(R"({"op":"pub","ch":"a","data":  "t\"x"  })").data == R"("t\"x")");
  CHECK(decodePub("{\"op\":\"pub\",\"ch\":\"a\",\"data\":12.50e3 \n}").data == "12.50e3");
  CHECK(decodePub(R"({"op":"pub","ch":"a","data":null})").data == "null");
  CHECK(decodePub(R"({"op":"pub","ch":"a","data":true})").data == "true");
  CHECK(decodePub(R"({"data":-7,"op":"pub","ch":"a"})").data == "-7");
}

TEST_CASE("pub defaults: from is system, no cid", "[app_request]") {
  auto p = decodePub(R"({"op":"pub","ch":"room:a","data":1,"extra":"ignored"})");
  CHECK(p.from == "system");
  CHECK(p.cid.empty());
}

TEST_CASE("malformed requests are bad_request", "[app_request]") {
  CHECK(errorCode("") == "bad_request");
  CHECK(errorCode("nope") == "bad_request");
  CHECK(errorCode("[1,2]") == "bad_request");
  CHECK(errorCode(R"({"op":"pub","ch":"a","data":{"x":}})") == "bad_request");
  CHECK(errorCode(R"({"op":"pub","ch":"a","data":1)") == "bad_request");
  CHECK(errorCode(R"({"ch":"a"})") == "bad_request");
  CHECK(errorCode(R"({"op":5})") == "bad_request");
  CHECK(errorCode(R"({"op":"kick","user":"42"})") == "bad_request");
  CHECK(errorCode(R"({"op":"what"})") == "bad_request");
  CHECK(errorCode(R"({"op":"pub","ch":"a"})") == "bad_request");            // no data
  CHECK(errorCode(R"({"op":"pub","data":1})") == "bad_request");            // no ch
  CHECK(errorCode(R"({"op":"pub","ch":"bad ch","data":1})") == "bad_request");
  CHECK(errorCode(R"({"op":"pub","ch":"a","data":1,"cid":""})") == "bad_request");
  CHECK(errorCode(R"({"op":"pub","ch":"a","data":1,"cid":7})") == "bad_request");
  CHECK(errorCode(R"({"op":"pub","ch":"a","data":1,"from":""})") == "bad_request");
  CHECK(errorCode(R"({"op":"pub","ch":"a","data":1,"from":"a\u0000b"})") == "bad_request");
  CHECK(errorCode(R"({"op":"pub","ch":"a","data":1,"data":2})") == "bad_request");
  CHECK(errorCode("{\"op\":\"pub\",\"ch\":\"a\",\"data\":\"\xff\"}") == "bad_request");  // bad UTF-8
  CHECK(errorCode(R"({"op":"hist","ch":"a","before":1,"after":2})") == "bad_request");
  CHECK(errorCode(R"({"op":"hist","ch":"a","before":-1})") == "bad_request");
  CHECK(errorCode(R"({"op":"hist","ch":"a","before":0})") == "bad_request");
  CHECK(errorCode(R"({"op":"hist","ch":"a","limit":0})") == "bad_request");
  CHECK(errorCode(R"({"op":"hist","ch":"a","limit":201})") == "bad_request");
  CHECK(errorCode(R"({"op":"hist","ch":"a","after":1.5})") == "bad_request");
}

TEST_CASE("data larger than the limit is too_large", "[app_request]") {
  std::string big = R"({"op":"pub","ch":"a","data":")" + std::string(kMaxData, 'x') + "\"}";
  CHECK(errorCode(big) == "too_large");
}

TEST_CASE("hist and stats decode", "[app_request]") {
  AppRequest req;
  REQUIRE(decode(R"({"op":"hist","ch":"room:a","before":10,"limit":5})", req).ok());
  auto h = std::get<AppHistory>(req);
  CHECK(h.channel == "room:a");
  CHECK(h.before == 10);
  CHECK(h.after == 0);
  CHECK(h.limit == 5);
  REQUIRE(decode(R"({"op":"hist","ch":"room:a","after":3})", req).ok());
  CHECK(std::get<AppHistory>(req).after == 3);
  CHECK(std::get<AppHistory>(req).limit == 50);
  REQUIRE(decode(R"({"op":"stats"})", req).ok());
  CHECK(std::holds_alternative<AppStats>(req));
}

TEST_CASE("a decoder serves request after request", "[app_request]") {
  AppRequestDecoder decoder(kMaxData);
  AppRequest req;
  CHECK_FALSE(decoder.decode("{", req).ok());
  REQUIRE(decoder.decode(R"({"op":"pub","ch":"a","data":{"k":[1]}})", req).ok());
  CHECK(std::get<AppPublish>(req).data == R"({"k":[1]})");
}

TEST_CASE("replies are encoded as PROTOCOL.md section 4 says", "[app_request]") {
  CHECK(encodePublishOk(0xab, 27) == R"({"ok":true,"epoch":"00000000000000ab","seq":27})");
  CHECK(encodeAppError("bad_request", "bad \"x\"") ==
        R"({"ok":false,"code":"bad_request","msg":"bad \"x\""})");
  HistoryPage page;
  page.epoch = 1;
  page.lastSeq = 2;
  page.msgs.push_back({"room:a", 1, 2, "system", 1764250000123, R"({"b":1, "a":2})"});
  page.more = true;
  CHECK(encodeHistoryOk(page) ==
        R"({"ok":true,"epoch":"0000000000000001","last":2,"msgs":[{"op":"msg","ch":"room:a","epoch":"0000000000000001","seq":2,"from":"system","ts":1764250000123,"data":{"b":1, "a":2}}],"more":true})");
  HubStats stats;
  stats.channels = 3;
  stats.published = 4;
  std::string s = encodeStatsOk(stats);
  CHECK(s.rfind(R"({"ok":true,"channels":3,"published":4,)", 0) == 0);
  CHECK(s.find(R"("uptime_s":0)") != std::string::npos);
}
