#include "common/json_codec.h"

#include <catch2/catch.hpp>

#include <simdjson.h>

#include <array>
#include <random>
#include <span>
#include <vector>
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

TEST_CASE("decode: every op with its fields", "[json_codec]") {
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

  r = decodeOk(d, R"({"op":"presence","id":9,"whatever":[1,2]})");
  CHECK(r.op == ClientOp::Unknown);
  CHECK(r.opName == "presence");
  CHECK(r.id == 9);
}

TEST_CASE("decode: a batched sub lists its channels with their positions", "[json_codec]") {
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

TEST_CASE("decode: ids, escapes, whitespace and unknown fields", "[json_codec]") {
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

TEST_CASE("decode: data is relayed byte for byte", "[json_codec]") {
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

TEST_CASE("decode: views stay valid until the next decode, across buffer growth", "[json_codec]") {
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

TEST_CASE("decode: missing and ill-typed fields", "[json_codec]") {
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

TEST_CASE("decode: the id is reported even when the request fails", "[json_codec]") {
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

TEST_CASE("decode: invalid JSON, invalid UTF-8 and non-objects", "[json_codec]") {
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

TEST_CASE("decode: mutated frames never crash, and data always comes from the frame", "[json_codec]") {
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

TEST_CASE("JsonWriter: structure and commas", "[json_codec]") {
  std::string out;
  JsonWriter w(out);
  w.beginObject()
      .key("op").string("msg")
      .key("seq").uinteger(18446744073709551615ull)
      .key("n").integer(-9223372036854775807 - 1)
      .key("ok").boolean(true)
      .key("no").boolean(false)
      .key("nil").null()
      .key("data").raw(R"({"b":1,"a":12345678901234567890123})")
      .key("list").beginArray().integer(1).beginObject().endObject().beginArray().endArray().string("x").raw("[1, 2]").endArray()
      .key("empty").beginObject().endObject()
      .endObject();
  CHECK(out ==
        R"({"op":"msg","seq":18446744073709551615,"n":-9223372036854775808,"ok":true,"no":false,"nil":null,)"
        R"("data":{"b":1,"a":12345678901234567890123},"list":[1,{},[],"x",[1, 2]],"empty":{}})");

  // Appends to existing content; sequences of top-level values get commas too (e.g. "msgs" bodies).
  std::string arr = "prefix:";
  JsonWriter a(arr);
  a.beginArray().beginArray().integer(0).endArray().beginObject().key("k").beginArray().endArray().endObject().endArray();
  CHECK(arr == R"(prefix:[[0],{"k":[]}])");
}

TEST_CASE("JsonWriter: string escaping", "[json_codec]") {
  auto str = [](std::string_view s) {
    std::string out;
    JsonWriter(out).string(s);
    return out;
  };
  CHECK(str("") == R"("")");
  CHECK(str("plain") == R"("plain")");
  CHECK(str("a\"b") == R"("a\"b")");
  CHECK(str("a\\b") == R"("a\\b")");
  CHECK(str("/") == R"("/")");
  CHECK(str("\n\r\t\b\f") == R"("\u000a\u000d\u0009\u0008\u000c")");
  CHECK(str(std::string("\0\x01\x1f", 3)) == R"("\u0000\u0001\u001f")");
  CHECK(str("\x7f") == "\"\x7f\"");
  CHECK(str("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  // Invalid UTF-8 becomes U+FFFD per offending byte, so the frame stays valid text.
  CHECK(str("a\xff" "b") == "\"a\xef\xbf\xbd" "b\"");
  CHECK(str("\xc3") == "\"\xef\xbf\xbd\"");                        // truncated
  CHECK(str("\xc0\xaf") == "\"\xef\xbf\xbd\xef\xbf\xbd\"");        // overlong
  CHECK(str("\xed\xa0\x80") == "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");  // surrogate
  CHECK(str("\xf4\x90\x80\x80").size() == 2 + 4 * 3);              // beyond U+10FFFF
  std::string key;
  JsonWriter(key).beginObject().key("k\"\n").integer(1).endObject();
  CHECK(key == R"({"k\"\u000a":1})");

  // Whatever goes in, the output parses back to the same (valid UTF-8) string.
  simdjson::dom::parser parser;
  for (int c = 0; c < 256; ++c) {
    std::string input = "x";
    input.push_back(static_cast<char>(c));
    input.push_back('y');
    const std::string json = str(input);
    std::string_view back;
    REQUIRE(parser.parse(json).get_string().get(back) == simdjson::SUCCESS);
    if (c < 0x80) CHECK(back == input);
  }
}

TEST_CASE("formatEpoch and parseEpoch", "[json_codec]") {
  CHECK(formatEpoch(0) == "0000000000000000");
  CHECK(formatEpoch(0xdeadbeef) == "00000000deadbeef");
  CHECK(formatEpoch(0x0123456789abcdefull) == "0123456789abcdef");
  CHECK(formatEpoch(UINT64_MAX) == "ffffffffffffffff");
  CHECK(parseEpoch("0000000000000000") == uint64_t{0});
  CHECK(parseEpoch("0123456789abcdef") == uint64_t{0x0123456789abcdefull});
  CHECK(parseEpoch("ffffffffffffffff") == UINT64_MAX);
  CHECK_FALSE(parseEpoch(""));
  CHECK_FALSE(parseEpoch("deadbeef"));
  CHECK_FALSE(parseEpoch("00000000000000000"));
  CHECK_FALSE(parseEpoch("0123456789ABCDEF"));
  CHECK_FALSE(parseEpoch("0x23456789abcdef"));
  CHECK_FALSE(parseEpoch("012345678 abcdef"));
  CHECK_FALSE(parseEpoch("-123456789abcdef"));
  for (uint64_t v : {uint64_t{1}, uint64_t{42}, uint64_t{0x8000000000000000ull}, uint64_t{0x00ff00ff00ff00ffull}}) {
    CHECK(parseEpoch(formatEpoch(v)) == v);
  }
}

// ---------------------------------------------------------------------------------------------
// JsonObjectReader: the shared validating walk (also used by the hub's app ingress)

namespace {

std::vector<JsonMember> readOk(JsonObjectReader& reader, std::string_view json,
                               std::span<const std::string_view> expand = {}) {
  const JsonReadStatus status = reader.read(json, expand);
  INFO(json << " -> " << status.detail);
  REQUIRE(status.ok());
  return {reader.members().begin(), reader.members().end()};
}

}  // namespace

TEST_CASE("JsonObjectReader: members in document order with type, scalar and raw bytes", "[json_codec]") {
  JsonObjectReader reader;
  const auto m = readOk(reader, " {\"s\":\"a\\u00e9\\n\", \"i\" : -42 ,\"u\":18446744073709551615,\"big\":123456789012345678901234567890,"
                                "\"e\":1E+2,\"z\":-0,\"t\":true,\"f\":false,\"n\":null,\"o\":{ \"k\" : [1, 2] },\"a\":[ ],\"d\\u0061\":1,\"s\":2} \n");
  REQUIRE(m.size() == 13);
  const auto check = [&](size_t i, std::string_view key, JsonType type, std::string_view raw) {
    INFO(i << " " << key);
    CHECK(m[i].key == key);
    CHECK(m[i].value.type == type);
    CHECK(m[i].value.raw == raw);
    CHECK(m[i].parent == kJsonTopLevel);
  };
  check(0, "s", JsonType::String, "\"a\\u00e9\\n\"");
  CHECK(m[0].value.str == "a\xc3\xa9\n");
  check(1, "i", JsonType::Int64, "-42");
  CHECK(m[1].value.i == -42);
  check(2, "u", JsonType::Uint64, "18446744073709551615");
  CHECK(m[2].value.u == UINT64_MAX);
  check(3, "big", JsonType::Number, "123456789012345678901234567890");
  check(4, "e", JsonType::Number, "1E+2");
  check(5, "z", JsonType::Int64, "-0");  // the integer 0, raw bytes kept
  CHECK(m[5].value.i == 0);
  check(6, "t", JsonType::Bool, "true");
  CHECK(m[6].value.b);
  check(7, "f", JsonType::Bool, "false");
  CHECK_FALSE(m[7].value.b);
  check(8, "n", JsonType::Null, "null");
  check(9, "o", JsonType::Object, "{ \"k\" : [1, 2] }");
  check(10, "a", JsonType::Array, "[ ]");
  check(11, "da", JsonType::Int64, "1");  // keys are unescaped
  check(12, "s", JsonType::Int64, "2");   // duplicates are listed, the caller decides
  uint64_t v = 0;
  CHECK(m[2].value.getUnsigned(v));
  CHECK(v == UINT64_MAX);
  CHECK(m[5].value.getUnsigned(v));
  CHECK(v == 0);
  CHECK_FALSE(m[1].value.getUnsigned(v));
  CHECK_FALSE(m[3].value.getUnsigned(v));
  CHECK_FALSE(m[4].value.getUnsigned(v));
  CHECK_FALSE(m[0].value.getUnsigned(v));
  CHECK(readOk(reader, "{}").empty());
}

TEST_CASE("JsonObjectReader: big integers, exponents and -0 keep their bytes at any depth", "[json_codec]") {
  JsonObjectReader reader;
  for (const std::string& value : std::vector<std::string>{"12345678901234567890123", "-12345678901234567890123", "18446744073709551616", "-9223372036854775809",
        "[1, 99999999999999999999999999999]", R"({"a":{"b":[{"c":-340282366920938463463374607431768211456}]}})",
        "1e308", "-1.5E-300", "2.50e+10", "0e0", "123456789012345678901234567890e-5", "-0", "-0.0", "[-0,{\"x\":-0.0e-0}]",
        std::string(300, '9')}) {
    INFO(value);
    const auto m = readOk(reader, R"({"x":1,"data":)" + value + R"( ,"y":2})");
    REQUIRE(m.size() == 3);
    CHECK(m[1].key == "data");
    CHECK(m[1].value.raw == value);
    CHECK(m[2].value.raw == "2");
  }
  // simdjson 3.0.1 rejects numbers whose magnitude a double cannot hold (the only size limit).
  CHECK(reader.read(R"({"data":1e400})").code == JsonReadStatus::InvalidJson);
  CHECK(reader.read("{\"data\":" + std::string(400, '9') + "}").code == JsonReadStatus::InvalidJson);
}

TEST_CASE("JsonObjectReader: expanded members list their object's members after them", "[json_codec]") {
  JsonObjectReader reader;
  constexpr std::array<std::string_view, 2> expand = {"since", "x"};
  const auto m = readOk(reader, R"({"a":{"since":{"q":1}},"since":{ "epoch":"e", "seq":12345678901234567890123, "n":{"k":[1]} },"x":[1],"b":0})",
                        expand);
  REQUIRE(m.size() == 8);
  CHECK(m[0].key == "a");  // only top-level keys expand (and keys inside expanded values)
  CHECK(m[0].value.raw == R"({"since":{"q":1}})");
  CHECK(m[1].key == "since");
  CHECK(m[1].parent == kJsonTopLevel);
  CHECK(m[1].value.type == JsonType::Object);
  CHECK(m[1].value.raw == R"({ "epoch":"e", "seq":12345678901234567890123, "n":{"k":[1]} })");
  CHECK(m[2].key == "epoch");
  CHECK(m[2].parent == 1);
  CHECK(m[2].value.str == "e");
  CHECK(m[3].key == "seq");
  CHECK(m[3].parent == 1);
  CHECK(m[3].value.type == JsonType::Number);
  CHECK(m[3].value.raw == "12345678901234567890123");
  CHECK(m[4].key == "n");
  CHECK(m[4].parent == 1);
  CHECK(m[4].value.raw == R"({"k":[1]})");
  CHECK(m[5].key == "x");  // an array: its elements follow
  CHECK(m[5].value.type == JsonType::Array);
  CHECK(m[5].value.raw == "[1]");
  CHECK(m[6].key == "");
  CHECK(m[6].parent == 5);
  CHECK(m[6].value.raw == "1");
  CHECK(m[7].key == "b");
  CHECK(m[7].parent == kJsonTopLevel);
  // Expanded members are validated like any other value, with the same depth bound.
  CHECK(reader.read(R"({"since":{"epoch":tru}})", expand).code == JsonReadStatus::InvalidJson);
  CHECK(reader.read(R"({"since":{"a":1,}})", expand).code == JsonReadStatus::InvalidJson);
  CHECK(reader.read(R"({"since":{"a":)" + std::string(127, '[') + std::string(127, ']') + "}}", expand).code ==
        JsonReadStatus::InvalidJson);
  CHECK(reader.read(R"({"since":{"a":)" + std::string(126, '[') + std::string(126, ']') + "}}", expand).ok());
}

TEST_CASE("JsonObjectReader: arrays of objects expand level by level", "[json_codec]") {
  JsonObjectReader reader;
  constexpr std::array<std::string_view, 2> expand = {"subs", "since"};
  const auto m = readOk(reader, R"({"subs":[{"ch":"a","since":{"epoch":"e","seq":1}},[2],{"ch":"b","x":{"since":{}}}]})",
                        expand);
  REQUIRE(m.size() == 10);
  CHECK(m[0].key == "subs");
  CHECK(m[0].value.type == JsonType::Array);
  CHECK(m[1].parent == 0);  // the first element
  CHECK(m[1].value.type == JsonType::Object);
  CHECK(m[1].value.raw == R"({"ch":"a","since":{"epoch":"e","seq":1}})");
  CHECK(m[2].key == "ch");
  CHECK(m[2].parent == 1);
  CHECK(m[3].key == "since");  // a key to expand, inside an expanded value
  CHECK(m[3].parent == 1);
  CHECK(m[4].key == "epoch");
  CHECK(m[4].parent == 3);
  CHECK(m[5].key == "seq");
  CHECK(m[6].parent == 0);  // [2]: an element that is not an object stays whole
  CHECK(m[6].value.raw == "[2]");
  CHECK(m[7].parent == 0);
  CHECK(m[8].key == "ch");
  CHECK(m[9].key == "x");  // not a key to expand: whole
  CHECK(m[9].value.raw == R"({"since":{}})");
  CHECK(m[9].parent == 7);
}

TEST_CASE("JsonObjectReader: invalid documents and non-objects", "[json_codec]") {
  JsonObjectReader reader;
  for (const std::string& bad : std::vector<std::string>{"", " ", "{", R"({"a":1} {})", R"({"a":1}})", R"({"a":1,})", R"({"a":01})",
                                R"({"a":"\x"})", "{\"a\":\"\xff\"}", R"({"a":[1 2]})", R"({"a":nul})"}) {
    INFO(bad);
    const JsonReadStatus status = reader.read(bad);
    CHECK(status.code == JsonReadStatus::InvalidJson);
    CHECK_FALSE(status.detail.empty());
    CHECK(reader.members().empty());
  }
  for (const std::string& notObject : std::vector<std::string>{"[]", "1", "12345678901234567890123", R"("s")", "null", "true"}) {
    INFO(notObject);
    CHECK(reader.read(notObject).code == JsonReadStatus::NotAnObject);
    CHECK(reader.members().empty());
  }
  const auto nested = [](int levels) { return R"({"a":)" + std::string(levels - 1, '[') + std::string(levels - 1, ']') + "}"; };
  CHECK(reader.read(nested(kMaxJsonDepth)).ok());
  CHECK(reader.read(nested(kMaxJsonDepth + 1)).code == JsonReadStatus::InvalidJson);
  // The reader keeps working after errors, its buffer grows, and views point into it, not the input.
  std::string big = R"({"k":")" + std::string(70000, 'x') + R"("})";
  CHECK(readOk(reader, big)[0].value.str.size() == 70000);
  std::string input = R"({"k":"v","n":123456789012345678901234567890})";
  const auto m = readOk(reader, input);
  input.assign(input.size(), '#');
  CHECK(m[0].key == "k");
  CHECK(m[0].value.str == "v");
  CHECK(m[1].value.raw == "123456789012345678901234567890");
}
