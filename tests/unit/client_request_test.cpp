#include "common/client_request.h"

#include <catch2/catch.hpp>

#include <random>
#include <string>

using namespace webim;

namespace {

// Decodes `frame`, requiring success.
ClientRequest decodeOk(RequestDecoder& decoder, std::string_view frame) {
  ClientRequest req;
  const DecodeError err = decoder.decode(frame, req);
  INFO(frame << " -> " << err.message);
  REQUIRE(err.message.empty());
  return req;
}

std::string decodeFail(RequestDecoder& decoder, std::string_view frame) {
  ClientRequest req;
  const DecodeError err = decoder.decode(frame, req);
  INFO(frame);
  REQUIRE_FALSE(err.message.empty());
  return err.message;
}

std::string dataOf(RequestDecoder& decoder, const std::string& dataJson) {
  const ClientRequest r = decodeOk(decoder, R"({"op":"pub","id":1,"ch":"room:1","cid":"c1","data":)" + dataJson + "}");
  return std::string(r.data);
}

}  // namespace

TEST_CASE("decode: every op with its fields", "[client_request]") {
  RequestDecoder d;
  ClientRequest r = decodeOk(d, R"({"op":"auth","id":1,"token":"a.b.c"})");
  CHECK(r.op == ClientOp::Auth);
  CHECK(r.opName == "auth");
  CHECK(r.id == 1);
  CHECK(r.hasId);
  CHECK(r.token == "a.b.c");

  r = decodeOk(d, R"({"op":"sub","id":2,"ch":"room:7"})");
  CHECK(r.op == ClientOp::Sub);
  CHECK(r.ch == "room:7");
  CHECK_FALSE(r.hasSince);

  r = decodeOk(d, R"({"op":"sub","id":3,"ch":"room:7","since":{"seq":25,"epoch":"00000000deadbeef"}})");
  CHECK(r.hasSince);
  CHECK(r.sinceEpoch == "00000000deadbeef");
  CHECK(r.sinceSeq == 25);

  r = decodeOk(d, R"({"op":"unsub","id":4,"ch":"room:7"})");
  CHECK(r.op == ClientOp::Unsub);
  CHECK(r.ch == "room:7");

  r = decodeOk(d, R"({"op":"pub","id":5,"ch":"room:7","data":{"text":"hi"},"cid":"m-1"})");
  CHECK(r.op == ClientOp::Pub);
  CHECK(r.ch == "room:7");
  CHECK(r.cid == "m-1");
  CHECK(r.data == R"({"text":"hi"})");

  r = decodeOk(d, R"({"op":"hist","id":6,"ch":"room:7"})");
  CHECK(r.op == ClientOp::Hist);
  CHECK(r.limit == 50);
  CHECK_FALSE(r.before);
  CHECK_FALSE(r.after);
  r = decodeOk(d, R"({"op":"hist","id":7,"ch":"room:7","before":100,"limit":200})");
  CHECK(r.before == uint64_t{100});
  CHECK_FALSE(r.after);
  CHECK(r.limit == 200);
  r = decodeOk(d, R"({"op":"hist","id":8,"ch":"room:7","after":0,"limit":1,"before":null})");
  CHECK(r.after == uint64_t{0});
  CHECK_FALSE(r.before);
  CHECK(r.limit == 1);

  r = decodeOk(d, R"({"op":"signal","id":10,"ch":"dm:a:b","data":{"typing":true}})");
  CHECK(r.op == ClientOp::Signal);
  CHECK(r.ch == "dm:a:b");
  CHECK(r.data == R"({"typing":true})");
  CHECK(r.cid.empty());

  r = decodeOk(d, R"({"op":"nosuchop","id":9,"whatever":[1,2]})");
  CHECK(r.op == ClientOp::Unknown);
  CHECK(r.opName == "nosuchop");
  CHECK(r.id == 9);
}

TEST_CASE("decode: a batched sub lists its channels with their positions", "[client_request]") {
  RequestDecoder d;
  ClientRequest r = decodeOk(d, R"({"op":"sub","id":9,"subs":[{"ch":"room:1","since":{"epoch":"00000000deadbeef","seq":4}},)"
                                R"({"ch":"room:2","since":null,"x":1},{"ch":"user:7"}]})");
  CHECK(r.op == ClientOp::Sub);
  CHECK(r.ch.empty());
  REQUIRE(r.subs.size() == 3);
  CHECK(r.subs[0].ch == "room:1");
  CHECK(r.subs[0].hasSince);
  CHECK(r.subs[0].sinceEpoch == "00000000deadbeef");
  CHECK(r.subs[0].sinceSeq == 4);
  CHECK(r.subs[1].ch == "room:2");
  CHECK_FALSE(r.subs[1].hasSince);
  CHECK(r.subs[2].ch == "user:7");
  // The same decoder next decodes a plain sub: nothing of the batch is left.
  r = decodeOk(d, R"({"op":"sub","id":10,"ch":"room:3"})");
  CHECK(r.subs.empty());

  std::string many = R"({"op":"sub","id":1,"subs":[)";
  for (size_t i = 0; i < kMaxSubBatch; ++i) many += (i ? "," : "") + std::string(R"({"ch":"room:)") + std::to_string(i) + "\"}";
  CHECK(decodeOk(d, many + "]}").subs.size() == kMaxSubBatch);
  ClientRequest tooMany;
  DecodeError e = d.decode(many + R"(,{"ch":"one-more"}]})", tooMany);
  CHECK(e.tooLarge);
  CHECK(tooMany.hasId);
  CHECK(e.message == "\"subs\" lists more than 256 channels");

  CHECK(decodeFail(d, R"({"op":"sub","id":1,"subs":[]})") == "\"subs\" must list at least one channel");
  CHECK(decodeFail(d, R"({"op":"sub","id":1,"subs":{"ch":"a"}})") == "\"subs\" must be an array");
  CHECK(decodeFail(d, R"({"op":"sub","id":1,"subs":["a"]})") == "each entry of \"subs\" must be an object");
  CHECK(decodeFail(d, R"({"op":"sub","id":1,"subs":[{"since":null}]})") == "missing \"ch\"");
  CHECK(decodeFail(d, R"({"op":"sub","id":1,"subs":[{"ch":"a","ch":"b"}]})") == "duplicate field \"ch\" in an entry of \"subs\"");
  CHECK(decodeFail(d, R"({"op":"sub","id":1,"subs":[{"ch":"a","since":{"epoch":"00000000deadbeef"}}]})") ==
        "\"since\" needs \"epoch\" and \"seq\"");
  CHECK(decodeFail(d, R"({"op":"sub","id":1,"subs":[{"ch":"a","since":{"epoch":"00000000deadbeef","seq":1,"seq":2}}]})") ==
        "duplicate field in \"since\"");
  CHECK(decodeFail(d, R"({"op":"sub","id":1,"ch":"a","subs":[{"ch":"b"}]})") == "give \"ch\" (and \"since\") or \"subs\", not both");
}

TEST_CASE("decode: ids, escapes, whitespace and unknown fields", "[client_request]") {
  RequestDecoder d;
  ClientRequest r = decodeOk(d, " \n{ \"id\" : -9223372036854775808 , \"op\" : \"unsub\", \"x\": {\"ch\": 1}, \"ch\" : \"room:\\u0037\" }\r\n");
  CHECK(r.id == INT64_MIN);
  CHECK(r.ch == "room:7");
  r = decodeOk(d, R"({"op":"auth","id":9223372036854775807,"token":"t"})");
  CHECK(r.id == INT64_MAX);
  r = decodeOk(d, R"({"o\u0070":"auth","id":0,"token":"t\"q"})");
  CHECK(r.op == ClientOp::Auth);
  CHECK(r.token == "t\"q");
  // Fields an op does not use are not checked.
  r = decodeOk(d, R"({"op":"auth","id":1,"token":"t","ch":5,"data":null,"cid":""})");
  CHECK(r.ch.empty());
  CHECK(r.data.empty());
}

TEST_CASE("decode: data is relayed byte for byte", "[client_request]") {
  RequestDecoder d;
  CHECK(dataOf(d, R"({"b":1,"a":12345678901234567890123})") == R"({"b":1,"a":12345678901234567890123})");
  CHECK(dataOf(d, R"("x")") == R"("x")");
  CHECK(dataOf(d, R"("esc\u00e9\n\"")") == R"("esc\u00e9\n\"")");
  CHECK(dataOf(d, "null") == "null");
  CHECK(dataOf(d, "true") == "true");
  CHECK(dataOf(d, "false") == "false");
  CHECK(dataOf(d, "0") == "0");
  CHECK(dataOf(d, "-1.50e+10") == "-1.50e+10");
  CHECK(dataOf(d, "123456789012345678901234567890") == "123456789012345678901234567890");
  CHECK(dataOf(d, "[1, 2]") == "[1, 2]");
  CHECK(dataOf(d, "[]") == "[]");
  CHECK(dataOf(d, "{}") == "{}");
  CHECK(dataOf(d, "\"\xe2\x82\xac\"") == "\"\xe2\x82\xac\"");

  // Surrounding whitespace is trimmed; inner whitespace and key order survive.
  const ClientRequest r = decodeOk(
      d, "{\"op\":\"pub\",\"id\":1,\"data\" :  \n { \"z\" : [ 1 ,\t{\"y\": null} ], \"a\":\"}\" }  \t\n ,\"ch\":\"room:1\",\"cid\":\"c\"}");
  CHECK(r.data == "{ \"z\" : [ 1 ,\t{\"y\": null} ], \"a\":\"}\" }");
  const ClientRequest s = decodeOk(d, "{\"op\":\"pub\",\"id\":1,\"ch\":\"room:1\",\"cid\":\"c\",\"data\": 42 \n}");
  CHECK(s.data == "42");
  const ClientRequest t = decodeOk(d, "{\"op\":\"pub\",\"id\":1,\"ch\":\"room:1\",\"cid\":\"c\",\"data\":\"s\"   }");
  CHECK(t.data == "\"s\"");
  CHECK(dataOf(d, R"([{"n":-0.0e-0,"big":[123456789012345678901234567890,-99999999999999999999999]},"\ud83d\ude00"])") ==
        R"([{"n":-0.0e-0,"big":[123456789012345678901234567890,-99999999999999999999999]},"\ud83d\ude00"])");
  CHECK(dataOf(d, "1e308") == "1e308");
  // A "data" key nested elsewhere is not the request's data.
  const ClientRequest u = decodeOk(d, R"({"op":"pub","id":1,"x":{"data":0},"ch":"room:1","cid":"c","d\u0061ta":[3]})");
  CHECK(u.data == "[3]");
}

TEST_CASE("decode: views stay valid until the next decode, across buffer growth", "[client_request]") {
  RequestDecoder d;
  ClientRequest small;
  REQUIRE(d.decode(R"({"op":"auth","id":1,"token":"tok"})", small).message.empty());
  CHECK(small.token == "tok");
  const std::string bigData = "\"" + std::string(60000, 'x') + "\"";
  const ClientRequest big = decodeOk(d, R"({"op":"pub","id":2,"ch":"room:1","cid":"c","data":)" + bigData + "}");
  CHECK(big.data == bigData);
  CHECK(big.ch == "room:1");
  // The frame passed in may be a temporary: the views point into the decoder, not the input.
  std::string frame = R"({"op":"pub","id":3,"ch":"room:2","cid":"c2","data":[1]})";
  ClientRequest r;
  REQUIRE(d.decode(frame, r).message.empty());
  frame.assign(frame.size(), '#');
  CHECK(r.ch == "room:2");
  CHECK(r.cid == "c2");
  CHECK(r.data == "[1]");
}

TEST_CASE("decode: missing and ill-typed fields", "[client_request]") {
  RequestDecoder d;
  CHECK(decodeFail(d, R"({"id":1})") == "missing \"op\"");
  CHECK(decodeFail(d, R"({"op":1,"id":1})") == "\"op\" must be a string");
  CHECK(decodeFail(d, R"({"op":"auth","token":"t"})") == "missing \"id\"");
  CHECK(decodeFail(d, R"({"op":"auth","id":"1","token":"t"})") == "\"id\" must be an integer");
  CHECK(decodeFail(d, R"({"op":"auth","id":1.0,"token":"t"})") == "\"id\" must be an integer");
  CHECK(decodeFail(d, R"({"op":"auth","id":9223372036854775808,"token":"t"})") == "\"id\" must be an integer");
  CHECK(decodeFail(d, R"({"op":"auth","id":1})") == "missing \"token\"");
  CHECK(decodeFail(d, R"({"op":"auth","id":1,"token":null})") == "\"token\" must be a string");
  CHECK(decodeFail(d, R"({"op":"sub","id":1})") == "missing \"ch\"");
  CHECK(decodeFail(d, R"({"op":"sub","id":1,"ch":["room:1"]})") == "\"ch\" must be a string");
  CHECK(decodeFail(d, R"({"op":"sub","id":1,"ch":"r","since":5})") == "\"since\" must be an object");
  CHECK(decodeFail(d, R"({"op":"sub","id":1,"ch":"r","since":{"epoch":"00000000deadbeef"}})") ==
        "\"since\" needs \"epoch\" and \"seq\"");
  CHECK(decodeFail(d, R"({"op":"sub","id":1,"ch":"r","since":{"epoch":"00000000DEADBEEF","seq":1}})") ==
        "\"since.epoch\" must be 16 lowercase hex digits");
  CHECK(decodeFail(d, R"({"op":"sub","id":1,"ch":"r","since":{"epoch":7,"seq":1}})") ==
        "\"since.epoch\" must be 16 lowercase hex digits");
  CHECK(decodeFail(d, R"({"op":"sub","id":1,"ch":"r","since":{"epoch":"00000000deadbeef","seq":-1}})") ==
        "\"since.seq\" must be an unsigned integer");
  CHECK(decodeFail(d, R"({"op":"sub","id":1,"ch":"r","since":{"epoch":"00000000deadbeef","seq":1,"seq":2}})") ==
        "duplicate field in \"since\"");
  CHECK(decodeOk(d, R"({"op":"sub","id":1,"ch":"r","since":null})").hasSince == false);
  CHECK(decodeFail(d, R"({"op":"unsub","id":1,"ch":7})") == "\"ch\" must be a string");
  CHECK(decodeFail(d, R"({"op":"pub","id":1,"ch":"r","cid":"c"})") == "missing \"data\"");
  CHECK(decodeFail(d, R"({"op":"pub","id":1,"ch":"r","data":1})") == "missing \"cid\"");
  CHECK(decodeFail(d, R"({"op":"pub","id":1,"ch":"r","data":1,"cid":5})") == "\"cid\" must be a string");
  CHECK(decodeFail(d, R"({"op":"pub","id":1,"ch":"r","data":1,"cid":""})") == "\"cid\" must be 1 to 64 bytes");
  CHECK(decodeFail(d, R"({"op":"pub","id":1,"ch":"r","data":1,"cid":")" + std::string(65, 'c') + "\"}") ==
        "\"cid\" must be 1 to 64 bytes");
  CHECK(decodeOk(d, R"({"op":"pub","id":1,"ch":"r","data":1,"cid":")" + std::string(64, 'c') + "\"}").cid.size() == 64);
  CHECK(decodeFail(d, R"({"op":"pub","id":1,"data":1,"cid":"c"})") == "missing \"ch\"");
  CHECK(decodeFail(d, R"({"op":"signal","id":1,"ch":"r"})") == "missing \"data\"");
  CHECK(decodeFail(d, R"({"op":"signal","id":1,"data":1})") == "missing \"ch\"");
  CHECK(decodeFail(d, R"({"op":"signal","id":1,"ch":3,"data":1})") == "\"ch\" must be a string");
  CHECK(decodeFail(d, R"({"op":"hist","id":1,"ch":"r","limit":0})") == "\"limit\" must be an integer from 1 to 200");
  CHECK(decodeFail(d, R"({"op":"hist","id":1,"ch":"r","limit":201})") == "\"limit\" must be an integer from 1 to 200");
  CHECK(decodeFail(d, R"({"op":"hist","id":1,"ch":"r","limit":"5"})") == "\"limit\" must be an integer from 1 to 200");
  CHECK(decodeFail(d, R"({"op":"hist","id":1,"ch":"r","limit":5.5})") == "\"limit\" must be an integer from 1 to 200");
  CHECK(decodeFail(d, R"({"op":"hist","id":1,"ch":"r","before":-1})") == "\"before\" must be an unsigned integer");
  CHECK(decodeFail(d, R"({"op":"hist","id":1,"ch":"r","after":"3"})") == "\"after\" must be an unsigned integer");
  CHECK(decodeFail(d, R"({"op":"hist","id":1,"ch":"r","after":3,"before":9})") == "\"before\" and \"after\" are exclusive");
  CHECK(decodeFail(d, R"({"op":"pub","id":1,"ch":"r","data":1,"data":2,"cid":"c"})") == "duplicate field \"data\"");
  CHECK(decodeFail(d, R"({"op":"sub","id":1,"ch":"a","c\u0068":"b"})") == "duplicate field \"ch\"");
}

TEST_CASE("decode: the id is reported even when the request fails", "[client_request]") {
  RequestDecoder d;
  ClientRequest r;
  CHECK_FALSE(d.decode(R"({"id":77,"op":"pub","ch":"room:1"})", r).message.empty());
  CHECK(r.hasId);
  CHECK(r.id == 77);
  CHECK_FALSE(d.decode(R"({"id":78,"op":5})", r).message.empty());
  CHECK(r.hasId);
  CHECK(r.id == 78);
  CHECK_FALSE(d.decode(R"({"id":79,"op":"sub","ch":"a","ch":"b"})", r).message.empty());
  CHECK(r.hasId);
  CHECK(r.id == 79);
  CHECK_FALSE(d.decode(R"({"id":1,"id":2,"op":"sub","ch":"a"})", r).message.empty());
  CHECK_FALSE(r.hasId);
  CHECK_FALSE(d.decode(R"({"id":"80","op":"sub","ch":"a"})", r).message.empty());
  CHECK_FALSE(r.hasId);
  CHECK(r.id == 0);
  CHECK_FALSE(d.decode(R"({"id":81,"op":"sub")", r).message.empty());  // invalid JSON: nothing read
  CHECK_FALSE(r.hasId);
  // A failed decode resets everything from the previous request.
  r = decodeOk(d, R"({"op":"auth","id":5,"token":"t"})");
  CHECK_FALSE(d.decode("[]", r).message.empty());
  CHECK(r.token.empty());
  CHECK(r.op == ClientOp::Unknown);
  CHECK_FALSE(r.hasId);
}

TEST_CASE("decode: invalid JSON, invalid UTF-8 and non-objects", "[client_request]") {
  RequestDecoder d;
  CHECK(decodeFail(d, "").rfind("invalid JSON", 0) == 0);
  CHECK(decodeFail(d, "   ").rfind("invalid JSON", 0) == 0);
  CHECK(decodeFail(d, "{").rfind("invalid JSON", 0) == 0);
  CHECK(decodeFail(d, R"({"op":"auth","id":1,"token":"t"} {})").rfind("invalid JSON", 0) == 0);
  CHECK(decodeFail(d, R"({"op":"auth","id":1,"token":"t",})").rfind("invalid JSON", 0) == 0);
  CHECK(decodeFail(d, R"({'op':'auth'})").rfind("invalid JSON", 0) == 0);
  // Values the decoder does not read are still validated.
  CHECK(decodeFail(d, R"({"op":"auth","id":1,"token":"t","x":tru})").rfind("invalid JSON", 0) == 0);
  CHECK(decodeFail(d, R"({"op":"auth","id":1,"token":"t","x":[1,]})").rfind("invalid JSON", 0) == 0);
  CHECK(decodeFail(d, R"({"op":"pub","id":1,"ch":"r","cid":"c","data":01})").rfind("invalid JSON", 0) == 0);
  CHECK(decodeFail(d, "{\"op\":\"pub\",\"id\":1,\"ch\":\"r\",\"cid\":\"c\",\"data\":\"\xe2\x82\"}").rfind("invalid JSON", 0) == 0);
  CHECK(decodeFail(d, "{\"op\":\"auth\",\"id\":1,\"token\":\"\xff\"}").rfind("invalid JSON", 0) == 0);
  CHECK(decodeFail(d, "{\"op\":\"auth\",\"id\":1,\"token\":\"\xc0\xaf\"}").rfind("invalid JSON", 0) == 0);  // overlong
  CHECK(decodeFail(d, "{\"op\":\"auth\",\"id\":1,\"token\":\"\xed\xa0\x80\"}").rfind("invalid JSON", 0) == 0);  // surrogate
  CHECK(decodeFail(d, "{\"op\":\"auth\",\"id\":1,\"token\":\"a\nb\"}").rfind("invalid JSON", 0) == 0);  // raw control char
  CHECK(decodeFail(d, std::string(R"({"op":"auth","id":1,"token":"t"})") + std::string(1, '\0')).rfind("invalid JSON", 0) == 0);
  // Numbers, atoms and escapes anywhere are checked, including in ignored fields and inside data.
  for (const char* bad : {"1x", "01", "-", "1.", ".5", "1e", "+1", "nul", "nulll", "tru", "falsey", "NaN", "Infinity",
                          R"("\x")", R"("\ud800")", R"("\udc00x")", R"("\u12")", "[1 2]", R"({"a" 1})",
                          R"({"a":1,})", R"({1:2})", "[", "{"}) {
    const std::string value = bad;
    INFO(value);
    CHECK(decodeFail(d, R"({"op":"auth","id":1,"token":"t","x":)" + value + "}").rfind("invalid JSON", 0) == 0);
    CHECK(decodeFail(d, R"({"op":"pub","id":1,"ch":"r","cid":"c","data":[)" + value + "]}").rfind("invalid JSON", 0) == 0);
  }
  CHECK(decodeFail(d, R"({"op":"auth","id":1,"token":"t"}})").rfind("invalid JSON", 0) == 0);
  CHECK(decodeFail(d, R"({"op":"auth","id":1,"token":"t"}])").rfind("invalid JSON", 0) == 0);
  CHECK(decodeFail(d, R"({"op":"auth","id":1,"t\qoken":"t"})").rfind("invalid JSON", 0) == 0);
  CHECK(decodeOk(d, " \t\r\n{\"op\":\"auth\",\"id\":1,\"token\":\"t\"} \t\r\n").token == "t");
  // Nesting is bounded (the validator recurses): 128 levels in all pass, 129 do not.
  const auto nested = [](int levels) {
    return R"({"op":"pub","id":1,"ch":"r","cid":"c","data":)" + std::string(levels - 1, '[') + std::string(levels - 1, ']') + "}";
  };
  CHECK(decodeOk(d, nested(128)).data.size() == 2 * 127);
  CHECK(decodeFail(d, nested(129)).rfind("invalid JSON", 0) == 0);
  CHECK(decodeFail(d, R"({"op":"pub","id":1,"ch":"r","cid":"c","data":)" + std::string(30000, '[') + std::string(30000, ']') + "}")
            .rfind("invalid JSON", 0) == 0);
  CHECK(decodeFail(d, "[]") == "request must be a JSON object");
  CHECK(decodeFail(d, R"("op")") == "request must be a JSON object");
  CHECK(decodeFail(d, "42") == "request must be a JSON object");
  CHECK(decodeFail(d, "null") == "request must be a JSON object");
  // The decoder keeps working after errors.
  CHECK(decodeOk(d, R"({"op":"auth","id":1,"token":"t"})").token == "t");
}

TEST_CASE("decode: mutated frames never crash, and data always comes from the frame", "[client_request]") {
  RequestDecoder d;
  const std::string seeds[] = {
      R"({"op":"pub","id":12,"ch":"room:1","cid":"c-1","data":{"t":"h\u00e9llo","n":[1,2.5,-3e2,true,false,null]}})",
      R"({"op":"sub","id":3,"ch":"room:1","since":{"epoch":"00000000deadbeef","seq":9}})",
      R"({"op":"hist","id":4,"ch":"room:1","before":10,"limit":20})",
  };
  std::mt19937 rng(7);
  int decoded = 0;
  for (int round = 0; round < 30000; ++round) {
    std::string frame = seeds[round % 3];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t pos = rng() % frame.size();
      switch (rng() % 3) {
        case 0: frame[pos] = static_cast<char>(rng() % 256); break;
        case 1: frame.erase(pos, 1 + rng() % 3); break;
        default: frame.insert(pos, 1, "{}[]\",:0e-\x80"[rng() % 12]); break;
      }
      if (frame.empty()) frame.push_back('{');
    }
    ClientRequest r;
    if (d.decode(frame, r).message.empty()) {
      ++decoded;
      if (!r.data.empty()) CHECK(frame.find(r.data) != std::string::npos);
    }
  }
  CHECK(decoded > 0);
}

TEST_CASE("decode: presence and presence_stats", "[client_request][channel_presence]") {
  RequestDecoder d;
  ClientRequest r = decodeOk(d, R"({"op":"presence","id":1,"ch":"room:1"})");
  CHECK(r.op == ClientOp::Presence);
  CHECK(r.ch == "room:1");
  CHECK(r.afterUser.empty());
  CHECK(r.limit == webim::kDefaultPresenceLimit);
  r = decodeOk(d, R"({"op":"presence","id":2,"ch":"room:1","after":"u7","limit":1000})");
  CHECK(r.afterUser == "u7");
  CHECK(r.limit == 1000);
  r = decodeOk(d, R"({"op":"presence_stats","id":3,"ch":"dm:a:b"})");
  CHECK(r.op == ClientOp::PresenceStats);
  CHECK(r.ch == "dm:a:b");
  for (const char* bad : {R"({"op":"presence","id":4})", R"({"op":"presence","id":4,"ch":"room:1","after":7})",
                          R"({"op":"presence","id":4,"ch":"room:1","limit":0})",
                          R"({"op":"presence","id":4,"ch":"room:1","limit":1001})", R"({"op":"presence_stats","id":4})"}) {
    ClientRequest out;
    CHECK_FALSE(d.decode(bad, out).ok());
    CHECK(out.id == 4);
  }
}
