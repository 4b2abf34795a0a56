// libFuzzer target: RequestDecoder::decode (client requests, docs/protocol.md section 1) and JsonWriter.
//
// The input is one text frame's payload. Whatever decode() accepts must satisfy the contract in
// common/client_request.h (the fields each op needs, cid 1..64 bytes, limit 1..200, before/after exclusive,
// canonical epoch, `data` itself valid JSON, the frame valid UTF-8), and must survive a round trip:
// re-encoded with JsonWriter, it decodes to the same request. Decoding is repeated with the same
// decoder to check that its reused buffers do not leak state between frames. The raw input is also
// written as a JSON string with appendJsonString, which must always yield valid UTF-8 JSON that
// parses back to the input when the input is valid UTF-8.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/client_request.h"
#include "common/epoch.h"
#include "common/json_writer.h"
#include "common/utf8.h"
#include "tests/fuzz/fuzz_support.h"

using namespace webim;

namespace {

// Owned copy of a ClientRequest (the decoder's views die at the next decode()).
struct Request {
  ClientOp op;
  std::string opName;
  int64_t id;
  bool hasId;
  std::string token, ch, cid, data;
  bool hasSince;
  std::string sinceEpoch;
  uint64_t sinceSeq;
  std::optional<uint64_t> before, after;
  uint32_t limit;
  bool operator==(const Request&) const = default;
};

Request copyOf(const ClientRequest& r) {
  return {r.op, std::string(r.opName), r.id, r.hasId, std::string(r.token), std::string(r.ch), std::string(r.cid),
          std::string(r.data), r.hasSince, std::string(r.sinceEpoch), r.sinceSeq, r.before, r.after, r.limit};
}

simdjson::dom::parser& domParser() {
  static simdjson::dom::parser parser;
  return parser;
}

bool hasLongDigitRun(std::string_view s) {
  size_t run = 0;
  for (char c : s) {
    run = (c >= '0' && c <= '9') ? run + 1 : 0;
    if (run >= 19) return true;
  }
  return false;
}

// An independent check with simdjson's DOM parser. The DOM (simdjson 3.0) refuses integers beyond
// 64 bits with NUMBER_ERROR, while the decoder must relay them unchanged inside `data`; so
// NUMBER_ERROR counts as valid when the text has such a number (a weaker check only for those).
bool isValidJson(std::string_view json) {
  simdjson::padded_string padded(json);
  simdjson::dom::element root;
  const auto error = domParser().parse(padded).get(root);
  return error == simdjson::SUCCESS || (error == simdjson::NUMBER_ERROR && hasLongDigitRun(json));
}

void checkAccepted(std::string_view frame, const Request& r) {
  FUZZ_CHECK(isValidUtf8(frame));
  FUZZ_CHECK(isValidJson(frame));
  FUZZ_CHECK(r.hasId);
  FUZZ_CHECK(!r.opName.empty() || r.op == ClientOp::Unknown);
  switch (r.op) {
    case ClientOp::Auth:
      break;
    case ClientOp::Sub:
      if (r.hasSince) FUZZ_CHECK(parseEpoch(r.sinceEpoch).has_value());
      break;
    case ClientOp::Unsub:
      break;
    case ClientOp::Pub:
      FUZZ_CHECK(!r.cid.empty() && r.cid.size() <= kMaxCidBytes);
      FUZZ_CHECK(!r.data.empty());
      FUZZ_CHECK(isValidJson(r.data));
      FUZZ_CHECK(r.data.front() != ' ' && r.data.back() != ' ' && r.data.back() != '\n');
      break;
    case ClientOp::Hist:
      FUZZ_CHECK(!(r.before && r.after));
      FUZZ_CHECK(r.limit >= 1 && r.limit <= kMaxHistLimit);
      break;
    case ClientOp::Unknown:
      FUZZ_CHECK(r.opName != "auth" && r.opName != "sub" && r.opName != "unsub" && r.opName != "pub" && r.opName != "hist");
      break;
  }
}

// Writes the request back as JSON with the library's writer (only the fields its op reads).
std::string reencode(const Request& r) {
  std::string out;
  JsonWriter w(out);
  w.beginObject().key("op").string(r.opName).key("id").integer(r.id);
  switch (r.op) {
    case ClientOp::Auth:
      w.key("token").string(r.token);
      break;
    case ClientOp::Sub:
      w.key("ch").string(r.ch);
      if (r.hasSince) {
        w.key("since").beginObject().key("epoch").string(r.sinceEpoch).key("seq").uinteger(r.sinceSeq).endObject();
      }
      break;
    case ClientOp::Unsub:
      w.key("ch").string(r.ch);
      break;
    case ClientOp::Pub:
      w.key("ch").string(r.ch).key("data").raw(r.data).key("cid").string(r.cid);
      break;
    case ClientOp::Hist:
      w.key("ch").string(r.ch);
      if (r.before) w.key("before").uinteger(*r.before);
      if (r.after) w.key("after").uinteger(*r.after);
      w.key("limit").uinteger(r.limit);
      break;
    case ClientOp::Unknown:
      break;
  }
  w.endObject();
  return out;
}

void checkStringEscaping(std::string_view input) {
  std::string json;
  appendJsonString(json, input);
  FUZZ_CHECK(isValidUtf8(json));
  simdjson::padded_string padded(json);
  simdjson::dom::element root;
  FUZZ_CHECK(domParser().parse(padded).get(root) == simdjson::SUCCESS);
  std::string_view parsed;
  FUZZ_CHECK(root.get_string().get(parsed) == simdjson::SUCCESS);
  if (isValidUtf8(input)) FUZZ_CHECK(parsed == input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static RequestDecoder decoder;  // one per loop in the server: reused across frames here too
  const std::string_view frame = fuzz::asView(data, size);

  ClientRequest out;
  const DecodeError first = decoder.decode(frame, out);
  const Request decoded = copyOf(out);
  if (!first.ok()) FUZZ_CHECK(!first.message.empty());

  // Same decoder, same frame: same answer (reused buffers carry nothing over).
  ClientRequest again;
  const DecodeError second = decoder.decode(frame, again);
  FUZZ_CHECK(second.message == first.message);
  FUZZ_CHECK(copyOf(again) == decoded);

  if (first.ok()) {
    checkAccepted(frame, decoded);
    const std::string json = reencode(decoded);
    RequestDecoder fresh;
    ClientRequest back;
    const DecodeError e = fresh.decode(json, back);
    FUZZ_CHECK(e.ok());
    FUZZ_CHECK(copyOf(back) == decoded);
  }

  checkStringEscaping(frame);
  if (size >= 8) {
    uint64_t epoch = 0;
    for (size_t i = 0; i < 8; ++i) epoch = (epoch << 8) | data[i];
    FUZZ_CHECK(parseEpoch(formatEpoch(epoch)) == epoch);
  }
  if (const auto epoch = parseEpoch(frame)) FUZZ_CHECK(formatEpoch(*epoch) == frame);
  return 0;
}
