// libFuzzer target: WsFrameParser (client -> server frames) and the UTF-8 validator (common/utf8.h).
//
// The input is a byte stream as a client would send it. It is fed three ways: whole, one byte per
// call, and in chunks cut at input-derived offsets (with a move of the parser and releaseBuffers()
// between chunks); all three must produce the same callbacks (the parser is push-style, so splits
// must not matter). Every callback is checked against the contract in ws_frame.h: nothing after a
// close or protocol error, payload sizes within the limits, text and close reasons valid UTF-8,
// valid close codes, no buffer held while idle. Delivered messages are re-encoded (masked) and must
// parse back to the same callback. Independently, the raw input is run through Utf8Validator (split
// at every byte and at derived offsets) and compared with a plain reference decoder, including the
// exact byte at which it must fail fast.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/utf8.h"
#include "common/ws_frame.h"
#include "tests/fuzz/fuzz_support.h"

using namespace webim;
using webim::fuzz::hashBytes;

namespace {

// Small limits so 1009 (too big / too many fragments) is reachable within libFuzzer's input sizes,
// yet above the parser's 2048-byte stack scratch so the per-thread scratch path is reached too.
const WsLimits kLimits{/*maxMessageBytes=*/4096, /*maxFragments=*/16};

constexpr size_t kNoError = static_cast<size_t>(-1);

// Reference UTF-8 check (RFC 3629), written for clarity rather than speed: returns the index of the
// first byte at which `s` stops being a prefix of valid UTF-8 (kNoError if it never does) and tells
// whether it ends on a code point boundary.
size_t referenceFirstInvalid(std::string_view s, bool& endsOnBoundary) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const uint8_t b = p[i];
    if (b < 0x80) {
      ++i;
      continue;
    }
    size_t need;
    uint8_t lo = 0x80, hi = 0xBF;  // range of the first continuation byte
    if (b >= 0xC2 && b <= 0xDF) {
      need = 1;
    } else if (b == 0xE0) {
      need = 2, lo = 0xA0;  // no overlongs
    } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
      need = 2;
    } else if (b == 0xED) {
      need = 2, hi = 0x9F;  // no surrogates
    } else if (b == 0xF0) {
      need = 3, lo = 0x90;  // no overlongs
    } else if (b >= 0xF1 && b <= 0xF3) {
      need = 3;
    } else if (b == 0xF4) {
      need = 3, hi = 0x8F;  // <= U+10FFFF
    } else {
      return i;  // 80..C1, F5..FF never start a sequence
    }
    for (size_t k = 1; k <= need; ++k) {
      if (i + k >= n) {
        endsOnBoundary = false;
        return kNoError;
      }
      const uint8_t c = p[i + k];
      if (c < lo || c > hi) return i + k;
      lo = 0x80, hi = 0xBF;
    }
    i += need + 1;
  }
  endsOnBoundary = true;
  return kNoError;
}

bool referenceValid(std::string_view s) {
  bool boundary = false;
  return referenceFirstInvalid(s, boundary) == kNoError && boundary;
}

void checkUtf8Validator(std::string_view data) {
  bool boundary = false;
  const size_t firstBad = referenceFirstInvalid(data, boundary);
  const bool valid = firstBad == kNoError && boundary;
  FUZZ_CHECK(isValidUtf8(data) == valid);

  // Byte by byte: feed() must fail exactly at the first impossible byte (fail fast), not earlier or later.
  Utf8Validator v;
  size_t failedAt = kNoError;
  for (size_t i = 0; i < data.size(); ++i) {
    const bool ok = v.feed(data.substr(i, 1));
    if (!ok && failedAt == kNoError) failedAt = i;
    if (failedAt != kNoError) FUZZ_CHECK(!ok);  // sticky until reset()
  }
  FUZZ_CHECK(failedAt == firstBad);
  FUZZ_CHECK(v.complete() == valid);

  // Derived chunks: the verdict must not depend on the split; after reset() the validator is fresh.
  v.reset();
  FUZZ_CHECK(v.complete());
  bool allOk = true;
  for (std::string_view chunk : fuzz::splitAtDerivedOffsets(data)) allOk = v.feed(chunk) && allOk;
  FUZZ_CHECK((allOk && v.complete()) == valid);
}

// Records callbacks as comparable strings and checks each against the parser's contract.
class CheckingHandler : public WsFrameHandler {
 public:
  std::vector<std::string> events;
  bool terminated = false;

  void onMessage(WsOpcode opcode, std::string_view payload) override {
    FUZZ_CHECK(!terminated);
    FUZZ_CHECK(opcode == WsOpcode::Text || opcode == WsOpcode::Binary);
    FUZZ_CHECK(payload.size() <= kLimits.maxMessageBytes);
    if (opcode == WsOpcode::Text) FUZZ_CHECK(referenceValid(payload));
    events.push_back(std::string(opcode == WsOpcode::Text ? "T" : "B").append(payload));
  }
  void onPing(std::string_view payload) override {
    FUZZ_CHECK(!terminated);
    FUZZ_CHECK(payload.size() <= kWsMaxControlPayload);
    events.push_back(std::string("i").append(payload));
  }
  void onPong(std::string_view payload) override {
    FUZZ_CHECK(!terminated);
    FUZZ_CHECK(payload.size() <= kWsMaxControlPayload);
    events.push_back(std::string("o").append(payload));
  }
  void onClose(uint16_t code, std::string_view reason) override {
    FUZZ_CHECK(!terminated);
    FUZZ_CHECK(code == kWsCloseNoStatus ? reason.empty() : isValidCloseCode(code));
    FUZZ_CHECK(reason.size() <= kWsMaxControlPayload - 2);
    FUZZ_CHECK(referenceValid(reason));
    terminated = true;
    events.push_back("C" + std::to_string(code) + ":" + std::string(reason));
  }
  void onProtocolError(uint16_t closeCode, const char* why) override {
    FUZZ_CHECK(!terminated);
    FUZZ_CHECK(closeCode == kWsCloseProtocolError || closeCode == kWsCloseInvalidPayload || closeCode == kWsCloseTooBig);
    FUZZ_CHECK(why != nullptr && why[0] != '\0');
    terminated = true;
    // Only the code is compared across splits: the text may differ (e.g. a truncated sequence is
    // "ends inside a UTF-8 sequence" when buffered, "invalid UTF-8" when received whole).
    events.push_back("E" + std::to_string(closeCode));
  }
};

void checkParserState(const WsFrameParser& parser, bool consumeResult, const CheckingHandler& h) {
  FUZZ_CHECK(consumeResult == !parser.finished());
  FUZZ_CHECK(parser.finished() == h.terminated);
  // The owned buffer never exceeds one message plus one split control payload.
  FUZZ_CHECK(parser.bufferCapacity() <= kLimits.maxMessageBytes + kWsMaxControlPayload);
  // Memory budget (docs/architecture.md): no buffer while idle, and none after the stream finished.
  if (parser.idle()) FUZZ_CHECK(parser.bufferCapacity() == 0);
}

std::vector<std::string> feedChunks(const std::vector<std::string_view>& chunks) {
  CheckingHandler h;
  WsFrameParser parser(&kLimits);
  for (std::string_view chunk : chunks) {
    const bool more = parser.consume(chunk, h);
    checkParserState(parser, more, h);
  }
  if (!parser.finished()) FUZZ_CHECK(parser.consume({}, h));
  return h.events;
}

// Derived chunks, moving the parser to a new object and calling releaseBuffers() between chunks:
// neither may change what is delivered.
std::vector<std::string> feedChunksWithMoves(std::string_view data) {
  CheckingHandler h;
  const auto chunks = fuzz::splitAtDerivedOffsets(data);
  uint64_t state = hashBytes(data) ^ 0x5bd1e995u;
  WsFrameParser parser(&kLimits);
  for (std::string_view chunk : chunks) {
    const bool more = parser.consume(chunk, h);
    checkParserState(parser, more, h);
    const uint64_t r = fuzz::nextRandom(state);
    if (r % 4 == 0) {
      WsFrameParser moved(std::move(parser));
      FUZZ_CHECK(parser.finished() && parser.idle() && parser.bufferCapacity() == 0);
      const size_t before = h.events.size();
      FUZZ_CHECK(!parser.consume(chunk, h));  // a moved-from parser accepts nothing
      FUZZ_CHECK(h.events.size() == before);
      parser = std::move(moved);
    }
    if (r % 3 == 0) parser.releaseBuffers();
  }
  // After the stream finished, more input is ignored without callbacks.
  if (parser.finished()) {
    const size_t before = h.events.size();
    FUZZ_CHECK(!parser.consume(data, h));
    FUZZ_CHECK(h.events.size() == before);
  }
  return h.events;
}

// Builds one masked client frame.
std::string maskedFrame(WsOpcode opcode, std::string_view payload, const uint8_t mask[4]) {
  uint8_t header[kWsMaxFrameHeader];
  const size_t headerSize = writeFrameHeader(header, opcode, payload.size());
  header[1] |= 0x80;
  std::string frame(reinterpret_cast<const char*>(header), headerSize);
  frame.append(reinterpret_cast<const char*>(mask), 4);
  for (size_t i = 0; i < payload.size(); ++i) frame.push_back(static_cast<char>(payload[i] ^ mask[i & 3]));
  return frame;
}

// Re-encodes each delivered event with the library's own encoders (plus masking) and checks that a
// fresh parser gives the same event back: writeFrameHeader's length encoding must be minimal, and
// encodeCloseFrame must produce what the parser accepts.
void checkReencode(const std::vector<std::string>& events, uint64_t seed) {
  for (const std::string& e : events) {
    uint8_t mask[4];
    const uint64_t r = fuzz::nextRandom(seed);
    std::memcpy(mask, &r, sizeof mask);
    std::string frame;
    const std::string_view body = std::string_view(e).substr(1);
    switch (e[0]) {
      case 'T': frame = maskedFrame(WsOpcode::Text, body, mask); break;
      case 'B': frame = maskedFrame(WsOpcode::Binary, body, mask); break;
      case 'i': frame = maskedFrame(WsOpcode::Ping, body, mask); break;
      case 'o': frame = maskedFrame(WsOpcode::Pong, body, mask); break;
      case 'C': {
        const size_t colon = body.find(':');
        const auto code = static_cast<uint16_t>(std::stoi(std::string(body.substr(0, colon))));
        const std::string serverFrame = encodeCloseFrame(code, body.substr(colon + 1));
        // Server frames are unmasked: take the payload after the 2-byte header (control <= 125).
        frame = maskedFrame(WsOpcode::Close, std::string_view(serverFrame).substr(2), mask);
        break;
      }
      default: continue;  // protocol errors have no frame
    }
    CheckingHandler h;
    WsFrameParser parser(&kLimits);
    parser.consume(frame, h);
    FUZZ_CHECK(h.events.size() == 1 && h.events[0] == e);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = fuzz::asView(data, size);
  checkUtf8Validator(input);

  const auto whole = feedChunks({input});
  FUZZ_CHECK(feedChunks(fuzz::splitEveryByte(input)) == whole);
  FUZZ_CHECK(feedChunksWithMoves(input) == whole);
  checkReencode(whole, hashBytes(input));
  return 0;
}
