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

TEST_CASE("pub data keeps integers beyond 64 bits, exponents and -0 verbatim", "[app_request]") {
  // The PHP push from the issue: the DOM parser used to answer "Problem while parsing a number".
  auto p = decodePub(R"({"op":"pub","ch":"room:a","data":{"n":12345678901234567890123},"cid":"x"})");
  CHECK(p.data == R"({"n":12345678901234567890123})");
  CHECK(p.cid == "x");
  // A bare big integer, negative or positive, and the 64-bit edges around it.
  CHECK(decodePub(R"({"op":"pub","ch":"a","data":123456789012345678901234567890})").data ==
        "123456789012345678901234567890");
  CHECK(decodePub(R"({"op":"pub","ch":"a","data":-123456789012345678901234567890 })").data ==
        "-123456789012345678901234567890");
  CHECK(decodePub(R"({"op":"pub","ch":"a","data":18446744073709551616})").data == "18446744073709551616");
  CHECK(decodePub(R"({"op":"pub","ch":"a","data":-9223372036854775809})").data == "-9223372036854775809");
  // Nested big integers, with key order and inner whitespace kept.
  const std::string nested =
      R"({ "z" : [ 1, {"deep": [99999999999999999999999999, -88888888888888888888888]} ],"a":{"b":{"c":340282366920938463463374607431768211456}} })";
  CHECK(decodePub(R"({"op":"pub","ch":"a","data":)" + nested + R"(,"cid":"n1"})").data == nested);
  // Exponent and fraction forms are not normalised.
  for (const char* number : {"1e2", "1E2", "1e+2", "1E-2", "-1.5e-300", "2.50E+10", "0e0", "1e308",
                             "123456789012345678901234567890e-5", "0.000000000000000000000000001"}) {
    INFO(number);
    CHECK(decodePub(std::string(R"({"op":"pub","ch":"a","data":)") + number + "}").data == number);
    CHECK(decodePub(std::string(R"({"op":"pub","ch":"a","data":[)") + number + "]}").data ==
          std::string("[") + number + "]");
  }
  // -0 stays -0 (not 0), alone and inside.
  CHECK(decodePub(R"({"op":"pub","ch":"a","data":-0})").data == "-0");
  CHECK(decodePub(R"({"op":"pub","ch":"a","data":-0.0})").data == "-0.0");
  CHECK(decodePub(R"({"op":"pub","ch":"a","data":{"x":-0,"y":[-0.0e-0]}})").data == R"({"x":-0,"y":[-0.0e-0]})");
}

TEST_CASE("pub keeps key order, duplicate keys and whitespace inside data", "[app_request]") {
  // data is opaque: duplicates and odd spacing inside it are relayed, only its surroundings are trimmed.
  auto p = decodePub("{\"op\":\"pub\",\"ch\":\"a\",\"data\" : \n\t{ \"b\" :1 ,\"a\":2,\"b\":3 }\r\n ,\"cid\":\"c\"}");
  CHECK(p.data == "{ \"b\" :1 ,\"a\":2,\"b\":3 }");
  // A "data" key elsewhere is not the request's data; an escaped top-level key is.
  auto q = decodePub(R"({"op":"pub","x":{"data":0},"ch":"a","d\u0061ta":[3]})");
  CHECK(q.data == "[3]");
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
  CHECK(errorCode(R"({"op":"kick"})") == "bad_request");                        // no user
  CHECK(errorCode(R"({"op":"kick","user":""})") == "bad_request");
  CHECK(errorCode(R"({"op":"kick","user":"42","code":1000})") == "bad_request");  // not 4000..4999
  CHECK(errorCode(R"({"op":"kick","user":"42","code":5000})") == "bad_request");
  CHECK(errorCode(R"({"op":"kick","user":"42","code":"x"})") == "bad_request");
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

TEST_CASE("bad_request messages say what is wrong", "[app_request]") {
  const auto message = [](std::string_view json) {
    AppRequest req;
    const AppDecodeError err = decode(json, req);
    CHECK(err.code == "bad_request");
    return err.message;
  };
  CHECK(message("").rfind("invalid JSON: ", 0) == 0);
  CHECK(message(R"({"op":"pub","ch":"a","data":01})").rfind("invalid JSON: ", 0) == 0);
  CHECK(message(R"({"op":"pub","ch":"a","data":1e})").rfind("invalid JSON: ", 0) == 0);
  CHECK(message(R"({"op":"pub","ch":"a","data":-})").rfind("invalid JSON: ", 0) == 0);
  CHECK(message(R"({"op":"pub","ch":"a","data":[1,]})").rfind("invalid JSON: ", 0) == 0);
  CHECK(message(R"({"op":"pub","ch":"a","data":1,"x":tru})").rfind("invalid JSON: ", 0) == 0);  // ignored fields too
  CHECK(message(R"({"op":"stats"} {})").rfind("invalid JSON: ", 0) == 0);
  CHECK(message(R"({"op":"stats"}})").rfind("invalid JSON: ", 0) == 0);
  const auto nested = [](int levels) {  // the request object is level 1
    return R"({"op":"pub","ch":"a","data":)" + std::string(levels - 1, '[') + std::string(levels - 1, ']') + "}";
  };
  CHECK(message(nested(129)).rfind("invalid JSON: ", 0) == 0);
  CHECK(decodePub(nested(128)).data.size() == 2 * 127);
  CHECK(message("[1,2]") == "request must be a JSON object");
  CHECK(message("12345678901234567890123") == "request must be a JSON object");
  CHECK(message(R"({"op":"pub","ch":"a","data":1,"data":2})") == "duplicate field data");
  CHECK(message(R"({"op":"pub","ch":"a","ch":"b","data":1})") == "duplicate field ch");
  CHECK(message(R"({"op":"pub","ch":"a","data":1,"cid":"x","cid":"x"})") == "duplicate field cid");
  CHECK(message(R"({"op":"hist","ch":"a","limit":5,"limit":5})") == "duplicate field limit");
  CHECK(message(R"({"op":5})") == "op must be a string");
  CHECK(message(R"({"op":"pub","ch":["a"],"data":1})") == "ch must be a string");
  CHECK(message(R"({"op":"pub","ch":"a","data":1,"from":7})") == "from must be a string");
  CHECK(message(R"({"op":"pub","ch":"a","data":1,"cid":12345678901234567890123})") == "cid must be a string");
  CHECK(message(R"({"op":"hist","ch":"a","before":12345678901234567890123})") == "before must be an unsigned integer");
  CHECK(message(R"({"op":"hist","ch":"a","after":1e2})") == "after must be an unsigned integer");
  CHECK(message(R"({"op":"hist","ch":"a","limit":"5"})") == "limit must be an unsigned integer");
}

TEST_CASE("hist accepts the 64-bit integer edges and null as absent", "[app_request]") {
  AppRequest req;
  REQUIRE(decode(R"({"op":"hist","ch":"a","after":18446744073709551615,"before":null,"limit":null})", req).ok());
  CHECK(std::get<AppHistory>(req).after == UINT64_MAX);
  CHECK(std::get<AppHistory>(req).before == 0);
  CHECK(std::get<AppHistory>(req).limit == 50);
  REQUIRE(decode(R"({"op":"hist","ch":"a","after":-0})", req).ok());
  CHECK(std::get<AppHistory>(req).after == 0);
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
  // The reused buffer grows for a big frame and still serves small ones after it.
  const std::string bigData = "[\"" + std::string(600, 'x') + "\",1" + std::string(300, '0') + "]";
  REQUIRE(decoder.decode(R"({"op":"pub","ch":"a","data":)" + bigData + "}", req).ok());
  CHECK(std::get<AppPublish>(req).data == bigData);
  CHECK_FALSE(decoder.decode(R"({"op":"pub","ch":"a","data":[1,2})", req).ok());
  REQUIRE(decoder.decode(R"({"op":"pub","ch":"b","data":-0})", req).ok());
  CHECK(std::get<AppPublish>(req).channel == "b");
  CHECK(std::get<AppPublish>(req).data == "-0");
}

TEST_CASE("replies are encoded as docs/protocol.md section 4 says", "[app_request]") {
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

TEST_CASE("kick decodes user, code (default 4003) and reason", "[app_request]") {
  AppRequestDecoder decoder(1024);
  AppRequest request;
  REQUIRE(decoder.decode(R"({"op":"kick","user":"42"})", request).ok());
  const AppKick* kick = std::get_if<AppKick>(&request);
  REQUIRE(kick != nullptr);
  CHECK(kick->user == "42");
  CHECK(kick->code == 4003);
  CHECK(kick->reason.empty());
  REQUIRE(decoder.decode(R"({"op":"kick","user":"7","code":4100,"reason":"banned"})", request).ok());
  kick = std::get_if<AppKick>(&request);
  REQUIRE(kick != nullptr);
  CHECK(kick->code == 4100);
  CHECK(kick->reason == "banned");
  CHECK(decoder.decode(R"({"op":"kick","user":"7","reason":")" + std::string(124, 'r') + R"("})", request).code ==
        "bad_request");
}

TEST_CASE("an HTTP API path implies the op", "[app_request]") {
  AppRequestDecoder decoder(1024);
  AppRequest request;
  REQUIRE(decoder.decode(R"({"ch":"room:a","data":1})", request, "pub").ok());
  CHECK(std::holds_alternative<AppPublish>(request));
  CHECK(decoder.decode(R"({"op":"hist","ch":"room:a"})", request, "pub").code == "bad_request");
  REQUIRE(decoder.decode(R"({"op":"pub","ch":"room:a","data":1})", request, "pub").ok());
}

TEST_CASE("a reply is a refusal unless its top-level ok is true", "[app_request]") {
  CHECK_FALSE(isAppRefusal(R"({"ok":true})"));
  CHECK_FALSE(isAppRefusal(R"({"ok":true,"epoch":"0000000000000001","seq":3})"));
  CHECK(isAppRefusal(R"({"ok":false,"code":"bad_request","msg":"x"})"));
  CHECK(isAppRefusal(R"({"code":"bad_request"})"));         // no ok at all
  CHECK(isAppRefusal(R"({"ok":"true"})"));                  // not a boolean
  CHECK(isAppRefusal(R"({"data":{"ok":true}})"));           // nested ok does not count
  CHECK(isAppRefusal("not json"));
}

TEST_CASE("presence and presence_stats", "[app_request][channel_presence]") {
  AppRequest req;
  REQUIRE(decode(R"({"op":"presence","ch":"room:1","after":"u7","limit":5})", req).ok());
  REQUIRE(std::holds_alternative<AppPresence>(req));
  CHECK(std::get<AppPresence>(req).channel == "room:1");
  CHECK(std::get<AppPresence>(req).after == "u7");
  CHECK(std::get<AppPresence>(req).limit == 5);
  CHECK_FALSE(std::get<AppPresence>(req).statsOnly);
  REQUIRE(decode(R"({"op":"presence_stats","ch":"dm:a:b"})", req).ok());
  CHECK(std::get<AppPresence>(req).statsOnly);
  CHECK(errorCode(R"({"op":"presence"})") == "bad_request");
  CHECK(errorCode(R"({"op":"presence","ch":"room:1","limit":1001})") == "bad_request");
  CHECK(errorCode(R"({"op":"presence","ch":"room:1","after":3})") == "bad_request");
}
