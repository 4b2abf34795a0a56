#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "common/ws_frame.h"

using webim::encodeCloseFrame;
using webim::encodeFrame;
using webim::isValidCloseCode;
using webim::writeFrameHeader;
using webim::WsFrameHandler;
using webim::WsFrameParser;
using webim::WsLimits;
using webim::WsOpcode;

namespace {

// Records every callback as one line, so runs with different splits can be compared exactly.
class Recorder : public WsFrameHandler {
 public:
  std::vector<std::string> events;
  void onMessage(WsOpcode opcode, std::string_view payload) override {
    events.push_back((opcode == WsOpcode::Text ? "text:" : "binary:") + std::string(payload));
  }
  void onPing(std::string_view payload) override { events.push_back("ping:" + std::string(payload)); }
  void onPong(std::string_view payload) override { events.push_back("pong:" + std::string(payload)); }
  void onClose(uint16_t code, std::string_view reason) override {
    events.push_back("close:" + std::to_string(code) + ":" + std::string(reason));
  }
  void onProtocolError(uint16_t closeCode, const char* why) override {
    events.push_back("error:" + std::to_string(closeCode));
    lastWhy = why;
  }
  std::string lastWhy;
};

struct FrameSpec {
  uint8_t opcode;
  std::string payload;
  bool fin = true;
  bool masked = true;
  uint8_t rsv = 0;           // bits 0x70
  int lengthForm = 0;        // 0: minimal, 16 or 64: force that encoding
  uint32_t mask = 0x37fa213d;
};

// A client frame as a browser would send it (masked, minimal length) unless told otherwise.
std::string clientFrame(const FrameSpec& f) {
  std::string out;
  out.push_back(static_cast<char>((f.fin ? 0x80 : 0) | f.rsv | f.opcode));
  const uint64_t n = f.payload.size();
  const uint8_t maskBit = f.masked ? 0x80 : 0;
  if (f.lengthForm == 0 && n < 126) {
    out.push_back(static_cast<char>(maskBit | n));
  } else if (f.lengthForm == 16 || (f.lengthForm == 0 && n <= 0xFFFF)) {
    out.push_back(static_cast<char>(maskBit | 126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n));
  } else {
    out.push_back(static_cast<char>(maskBit | 127));
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(n >> (8 * i)));
  }
  const uint8_t key[4] = {static_cast<uint8_t>(f.mask >> 24), static_cast<uint8_t>(f.mask >> 16),
                          static_cast<uint8_t>(f.mask >> 8), static_cast<uint8_t>(f.mask)};
  if (f.masked) out.append(reinterpret_cast<const char*>(key), 4);
  for (size_t i = 0; i < f.payload.size(); ++i) {
    out.push_back(static_cast<char>(f.payload[i] ^ (f.masked ? key[i & 3] : 0)));
  }
  return out;
}

std::string text(std::string payload, bool fin = true) { return clientFrame({1, std::move(payload), fin}); }
std::string binary(std::string payload, bool fin = true) { return clientFrame({2, std::move(payload), fin}); }
std::string cont(std::string payload, bool fin = true) { return clientFrame({0, std::move(payload), fin}); }
std::string ping(std::string payload) { return clientFrame({9, std::move(payload)}); }
std::string pong(std::string payload) { return clientFrame({10, std::move(payload)}); }
std::string closeFrame(uint16_t code, std::string reason = {}) {
  std::string body;
  body.push_back(static_cast<char>(code >> 8));
  body.push_back(static_cast<char>(code));
  return clientFrame({8, body + reason});
}

// Only the frame header of a frame declaring `length` bytes (for huge declared lengths).
std::string header64(uint8_t opcode, uint64_t length) {
  std::string out;
  out.push_back(static_cast<char>(0x80 | opcode));
  out.push_back(static_cast<char>(0x80 | 127));
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(length >> (8 * i)));
  out.append("\x01\x02\x03\x04", 4);
  return out;
}

const WsLimits kLimits{};

std::vector<std::string> run(const std::string& input, const std::vector<size_t>& cuts, const WsLimits& limits = kLimits) {
  WsFrameParser parser(&limits);
  Recorder r;
  size_t from = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(input.size());
  for (size_t end : ends) {
    parser.consume(std::string_view(input).substr(from, end - from), r);
    from = end;
  }
  return r.events;
}

std::vector<std::string> runWhole(const std::string& input, const WsLimits& limits = kLimits) { return run(input, {}, limits); }

// The property every parser must have: any split of the input gives the same events.
void checkSplitsAgree(const std::string& input, const std::vector<std::string>& expected, const WsLimits& limits = kLimits) {
  REQUIRE(runWhole(input, limits) == expected);
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    INFO("cut at " << cut);
    REQUIRE(run(input, {cut}, limits) == expected);
  }
  std::vector<size_t> everyByte;
  for (size_t i = 1; i < input.size(); ++i) everyByte.push_back(i);
  REQUIRE(run(input, everyByte, limits) == expected);
}

std::string firstError(const std::string& input, const WsLimits& limits = kLimits) {
  const auto events = runWhole(input, limits);
  return events.empty() ? "" : events.back();
}

}  // namespace

TEST_CASE("ws_frame: parser state is small", "[ws_frame]") {
  STATIC_REQUIRE(sizeof(WsFrameParser) <= 72);
  WsFrameParser parser(&kLimits);
  CHECK(parser.idle());
  CHECK(parser.bufferCapacity() == 0);
}

TEST_CASE("ws_frame: unmasks text, binary, ping and pong", "[ws_frame]") {
  const std::string input = text("Hello") + binary(std::string("\x00\xFF\x10", 3)) + ping("p") + pong("") + text("");
  checkSplitsAgree(input, {"text:Hello", std::string("binary:\x00\xFF\x10", 10), "ping:p", "pong:", "text:"});
}

TEST_CASE("ws_frame: RFC 6455 5.7 sample frames", "[ws_frame]") {
  // A single-frame masked text message "Hello".
  CHECK(runWhole("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58") == std::vector<std::string>{"text:Hello"});
  // The same, with an unmasked client frame: rejected.
  CHECK(runWhole("\x81\x05\x48\x65\x6c\x6c\x6f") == std::vector<std::string>{"error:1002"});
}

TEST_CASE("ws_frame: 7, 16 and 64-bit lengths", "[ws_frame]") {
  const std::string p125(125, 'a'), p126(126, 'b'), p65535(65535, 'c'), p65536(65536, 'd');
  WsLimits big;
  big.maxMessageBytes = 70000;
  CHECK(runWhole(text(p125), big) == std::vector<std::string>{"text:" + p125});
  CHECK(runWhole(text(p126), big) == std::vector<std::string>{"text:" + p126});
  CHECK(runWhole(binary(p65535), big) == std::vector<std::string>{"binary:" + p65535});
  CHECK(runWhole(binary(p65536), big) == std::vector<std::string>{"binary:" + p65536});
  CHECK(text(p126)[1] == static_cast<char>(0x80 | 126));
  CHECK(binary(p65536)[1] == static_cast<char>(0x80 | 127));
  // Split everywhere: exercised on a 16-bit and a 64-bit length frame (headers split in every place).
  const std::string mid(300, 'm');
  checkSplitsAgree(text(mid) + ping("x"), {"text:" + mid, "ping:x"});
  const std::string frame64 = binary(p65536);
  for (size_t cut = 0; cut <= 16; ++cut) {
    INFO("cut " << cut);
    CHECK(run(frame64, {cut}, big) == std::vector<std::string>{"binary:" + p65536});
  }
  CHECK(run(frame64, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 1000, 40000}, big) ==
        std::vector<std::string>{"binary:" + p65536});
}

TEST_CASE("ws_frame: non-minimal length encodings are 1002", "[ws_frame]") {
  CHECK(firstError(clientFrame({1, "short", true, true, 0, 16})) == "error:1002");
  CHECK(firstError(clientFrame({1, std::string(200, 'x'), true, true, 0, 64})) == "error:1002");
}

TEST_CASE("ws_frame: fragmentation with interleaved control frames", "[ws_frame]") {
  const std::string input = text("Hel", false) + ping("mid") + cont("lo, ", false) + pong("pp") + cont("", false) +
                            cont("world") + binary("b1", false) + cont("b2") + text("after");
  checkSplitsAgree(input, {"ping:mid", "pong:pp", "text:Hello, world", "binary:b1b2", "text:after"});
}

TEST_CASE("ws_frame: close frames", "[ws_frame]") {
  checkSplitsAgree(closeFrame(1000, "bye") + text("ignored"), {"close:1000:bye"});
  checkSplitsAgree(clientFrame({8, ""}) + text("ignored"), {"close:1005:"});
  checkSplitsAgree(closeFrame(4001, "caf\xC3\xA9"), {"close:4001:caf\xC3\xA9"});
  checkSplitsAgree(text("a", false) + closeFrame(1001), {"close:1001:"});  // close inside a fragmented message
  CHECK(firstError(clientFrame({8, "x"})) == "error:1002");
  CHECK(firstError(closeFrame(1005)) == "error:1002");
  CHECK(firstError(closeFrame(999)) == "error:1002");
  CHECK(firstError(closeFrame(1000, "\xC3")) == "error:1007");
  CHECK(firstError(closeFrame(1000, "\xED\xA0\x80")) == "error:1007");

  WsFrameParser parser(&kLimits);
  Recorder r;
  CHECK_FALSE(parser.consume(closeFrame(1000), r));
  CHECK(parser.finished());
  CHECK_FALSE(parser.consume(text("more"), r));
  CHECK(r.events == std::vector<std::string>{"close:1000:"});
}

TEST_CASE("ws_frame: close code validity", "[ws_frame]") {
  for (uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4009, 4999}) {
    INFO(code);
    CHECK(isValidCloseCode(code));
    CHECK(runWhole(closeFrame(code)) == std::vector<std::string>{"close:" + std::to_string(code) + ":"});
  }
  for (uint16_t code : {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
    INFO(code);
    CHECK_FALSE(isValidCloseCode(code));
    CHECK(firstError(closeFrame(code)) == "error:1002");
  }
}

TEST_CASE("ws_frame: protocol errors with their close codes", "[ws_frame]") {
  CHECK(firstError(clientFrame({1, "x", true, false})) == "error:1002");           // unmasked
  CHECK(firstError(clientFrame({1, "x", true, true, 0x40})) == "error:1002");      // RSV1
  CHECK(firstError(clientFrame({1, "x", true, true, 0x20})) == "error:1002");      // RSV2
  CHECK(firstError(clientFrame({1, "x", true, true, 0x10})) == "error:1002");      // RSV3
  for (uint8_t op : {3, 4, 5, 6, 7, 11, 12, 13, 14, 15}) {
    INFO("opcode " << int(op));
    CHECK(firstError(clientFrame({op, "x"})) == "error:1002");
  }
  CHECK(firstError(clientFrame({9, "x", false})) == "error:1002");                 // fragmented ping
  CHECK(firstError(clientFrame({9, std::string(126, 'p')})) == "error:1002");      // control > 125
  CHECK(runWhole(ping(std::string(125, 'p'))) == std::vector<std::string>{"ping:" + std::string(125, 'p')});
  CHECK(firstError(cont("orphan")) == "error:1002");                                // continuation without message
  CHECK(firstError(text("a", false) + text("b")) == "error:1002");                   // new message inside one
  CHECK(firstError(text("a", false) + binary("b", false)) == "error:1002");
  CHECK(firstError(text("\xC3\x28")) == "error:1007");
  CHECK(firstError(text("ok\xF0\x9F\x98")) == "error:1007");                        // ends mid code point
  CHECK(firstError(text("ab", false) + cont("\xF0\x9F", true)) == "error:1007");   // message ends mid code point
  // Nothing after the error is reported, even when more frames follow in the same read.
  CHECK(runWhole(clientFrame({1, "x", true, false}) + text("later")) == std::vector<std::string>{"error:1002"});
  // The error path also holds at every split.
  checkSplitsAgree(text("first") + clientFrame({1, "x", true, true, 0x40}) + text("later"), {"text:first", "error:1002"});
}

TEST_CASE("ws_frame: declared length over the limit is 1009 before allocating", "[ws_frame]") {
  WsLimits small;
  small.maxMessageBytes = 100;
  WsFrameParser parser(&small);
  Recorder r;
  const std::string header = clientFrame({2, std::string(101, 'x')}).substr(0, 8);  // header only
  CHECK_FALSE(parser.consume(header, r));
  CHECK(r.events == std::vector<std::string>{"error:1009"});
  CHECK(parser.bufferCapacity() == 0);
  // Exactly at the limit is fine, also when assembled from fragments.
  CHECK(runWhole(binary(std::string(100, 'y')), small) == std::vector<std::string>{"binary:" + std::string(100, 'y')});
  CHECK(runWhole(binary(std::string(60, 'y'), false) + cont(std::string(40, 'z')), small) ==
        std::vector<std::string>{"binary:" + std::string(60, 'y') + std::string(40, 'z')});
  // The sum of fragments is what counts.
  CHECK(runWhole(binary(std::string(60, 'y'), false) + cont(std::string(41, 'z')), small) ==
        std::vector<std::string>{"error:1009"});
}

TEST_CASE("ws_frame: huge 64-bit lengths", "[ws_frame]") {
  // 2^63 - 1 is a legal length, just too big; 2^63 has the top bit set, which RFC 6455 forbids.
  for (size_t cut = 0; cut <= 14; ++cut) {
    INFO("cut " << cut);
    CHECK(run(header64(2, (uint64_t{1} << 63) - 1), {cut}) == std::vector<std::string>{"error:1009"});
    CHECK(run(header64(2, uint64_t{1} << 63), {cut}) == std::vector<std::string>{"error:1002"});
    CHECK(run(header64(1, ~uint64_t{0}), {cut}) == std::vector<std::string>{"error:1002"});
  }
  // Inside a fragmented message: the running total plus a huge length must not wrap around.
  CHECK(runWhole(text("abc", false) + header64(0, (uint64_t{1} << 63) - 2)) == std::vector<std::string>{"error:1009"});
}

TEST_CASE("ws_frame: 130k one-byte continuation frames hit maxFragments without growing memory", "[ws_frame]") {
  std::string input = text("a", false);
  for (int i = 0; i < 130000; ++i) input += cont("b", false);
  WsFrameParser parser(&kLimits);
  Recorder r;
  size_t peak = 0;
  size_t fedFrames = 0;
  // Fed frame by frame (7 bytes each) to watch the buffer as it goes.
  const size_t frameSize = 7;
  bool alive = true;
  for (size_t off = 0; off < input.size() && alive; off += frameSize) {
    alive = parser.consume(std::string_view(input).substr(off, frameSize), r);
    peak = std::max(peak, parser.bufferCapacity());
    ++fedFrames;
  }
  CHECK(r.events == std::vector<std::string>{"error:1009"});
  CHECK(fedFrames == kLimits.maxFragments + 1);
  CHECK(peak <= 2048);  // ~1 KiB of payload, geometric growth
  CHECK(parser.bufferCapacity() == 0);  // freed on error
  // And fed in one read.
  CHECK(runWhole(input) == std::vector<std::string>{"error:1009"});
  // Exactly maxFragments frames is accepted.
  WsLimits few;
  few.maxFragments = 3;
  CHECK(runWhole(text("a", false) + cont("b", false) + cont("c"), few) == std::vector<std::string>{"text:abc"});
  CHECK(runWhole(text("a", false) + cont("b", false) + cont("c", false) + cont("d"), few) ==
        std::vector<std::string>{"error:1009"});
}

TEST_CASE("ws_frame: UTF-8 split inside a code point across fragments", "[ws_frame]") {
  // U+1F600 = F0 9F 98 80, split 1/3, 2/2, 3/1, and also over three fragments.
  const std::string emoji = "\xF0\x9F\x98\x80";
  for (size_t at = 1; at < 4; ++at) {
    INFO("split at " << at);
    checkSplitsAgree(text("x" + emoji.substr(0, at), false) + ping("!") + cont(emoji.substr(at) + "y"),
                     {"ping:!", "text:x" + emoji + "y"});
  }
  checkSplitsAgree(text("\xF0", false) + cont("\x9F\x98", false) + cont("\x80"), {"text:" + emoji});
}

TEST_CASE("ws_frame: invalid UTF-8 fails fast, before the message ends", "[ws_frame]") {
  WsFrameParser parser(&kLimits);
  Recorder r;
  // A fragmented text message whose first fragment already contains a surrogate.
  CHECK_FALSE(parser.consume(text("ok \xED\xA0\x80", false), r));
  CHECK(r.events == std::vector<std::string>{"error:1007"});

  // A single large frame arriving in pieces: the error is reported on the piece that has the bad byte.
  const std::string frame = text(std::string(1000, 'a') + "\xFF" + std::string(1000, 'b'));
  WsFrameParser streaming(&kLimits);
  Recorder r2;
  CHECK(streaming.consume(std::string_view(frame).substr(0, 500), r2));
  CHECK(r2.events.empty());
  CHECK_FALSE(streaming.consume(std::string_view(frame).substr(500, 600), r2));
  CHECK(r2.events == std::vector<std::string>{"error:1007"});

  // Invalid sequence split across fragments is detected at the second fragment's first byte.
  WsFrameParser split(&kLimits);
  Recorder r3;
  CHECK(split.consume(text("\xE2", false), r3));
  CHECK_FALSE(split.consume(cont("\x28\xA1", false), r3));
  CHECK(r3.events == std::vector<std::string>{"error:1007"});
  // Binary messages are not validated.
  CHECK(runWhole(binary("\xFF\xFE")) == std::vector<std::string>{"binary:\xFF\xFE"});
}

TEST_CASE("ws_frame: buffers only when a message spans reads, and frees them when done", "[ws_frame]") {
  WsFrameParser parser(&kLimits);
  Recorder r;
  CHECK(parser.consume(text("whole") + ping("p"), r));
  CHECK(parser.bufferCapacity() == 0);
  CHECK(parser.idle());
  const std::string frame = binary(std::string(5000, 'z'));
  CHECK(parser.consume(std::string_view(frame).substr(0, 3), r));  // partial header only
  CHECK_FALSE(parser.idle());
  CHECK(parser.bufferCapacity() == 0);
  CHECK(parser.consume(std::string_view(frame).substr(3, 1000), r));
  CHECK_FALSE(parser.idle());
  CHECK(parser.bufferCapacity() > 0);
  CHECK(parser.bufferCapacity() <= 5000 + 125);
  parser.releaseBuffers();  // not idle: keeps the buffer
  CHECK(parser.bufferCapacity() > 0);
  CHECK(parser.consume(std::string_view(frame).substr(1003), r));
  CHECK(parser.idle());
  CHECK(parser.bufferCapacity() == 0);
  CHECK(r.events == std::vector<std::string>{"text:whole", "ping:p", "binary:" + std::string(5000, 'z')});
  // A large frame received whole (beyond the stack scratch) also needs no owned buffer.
  CHECK(parser.consume(binary(std::string(60000, 'q')), r));
  CHECK(parser.bufferCapacity() == 0);
  CHECK(r.events.back() == "binary:" + std::string(60000, 'q'));
}

TEST_CASE("ws_frame: masking keys and offsets across reads", "[ws_frame]") {
  std::string payload;
  for (int i = 0; i < 300; ++i) payload.push_back(static_cast<char>('a' + i % 26));
  for (uint32_t mask : {0u, 0xFFFFFFFFu, 0x01020304u, 0xdeadbeefu}) {
    INFO("mask " << mask);
    const std::string frame = clientFrame({1, payload, true, true, 0, 0, mask});
    const std::vector<std::string> expected = {"text:" + payload};
    for (size_t cut = 0; cut <= frame.size(); cut += 3) CHECK(run(frame, {cut, cut + 5 < frame.size() ? cut + 5 : frame.size()}) == expected);
  }
}

TEST_CASE("ws_frame: a moved parser keeps its partial state", "[ws_frame]") {
  const std::string input = text("Hel", false) + cont("lo");
  WsFrameParser a(&kLimits);
  Recorder r;
  CHECK(a.consume(std::string_view(input).substr(0, 9), r));
  WsFrameParser b(std::move(a));
  CHECK(b.consume(std::string_view(input).substr(9), r));
  CHECK(r.events == std::vector<std::string>{"text:Hello"});
  CHECK_FALSE(a.consume("x", r));  // NOLINT(bugprone-use-after-move): moved-from parser is finished
}

TEST_CASE("ws_frame: encoding server frames", "[ws_frame]") {
  uint8_t header[10];
  CHECK(writeFrameHeader(header, WsOpcode::Text, 0) == 2);
  CHECK(header[0] == 0x81);
  CHECK(header[1] == 0);
  CHECK(writeFrameHeader(header, WsOpcode::Binary, 125, false) == 2);
  CHECK(header[0] == 0x02);
  CHECK(header[1] == 125);
  CHECK(writeFrameHeader(header, WsOpcode::Text, 126) == 4);
  CHECK((header[1] == 126 && header[2] == 0 && header[3] == 126));
  CHECK(writeFrameHeader(header, WsOpcode::Text, 65535) == 4);
  CHECK((header[2] == 0xFF && header[3] == 0xFF));
  CHECK(writeFrameHeader(header, WsOpcode::Text, 65536) == 10);
  CHECK(header[1] == 127);
  CHECK(std::string(reinterpret_cast<char*>(header) + 2, 8) == std::string("\0\0\0\0\0\x01\0\0", 8));
  CHECK(encodeFrame(WsOpcode::Text, "Hello") == "\x81\x05Hello");
  CHECK(encodeFrame(WsOpcode::Pong, "") == std::string("\x8A\x00", 2));
  const std::string big = encodeFrame(WsOpcode::Binary, std::string(300, 'b'));
  CHECK(big.size() == 304);
  CHECK(big.substr(0, 4) == "\x82\x7E\x01\x2C");
  CHECK(encodeCloseFrame(1000) == "\x88\x02\x03\xE8");
  CHECK(encodeCloseFrame(4009, "slow") == "\x88\x06\x0F\xA9slow");
  CHECK(encodeCloseFrame(1005) == std::string("\x88\x00", 2));
  // Reasons are cut to 123 bytes without splitting a code point: 61 x "é" (2 bytes) + "é" would be 124.
  std::string accents;
  for (int i = 0; i < 62; ++i) accents += "\xC3\xA9";
  const std::string frame = encodeCloseFrame(1008, accents);
  CHECK(frame.size() == 2 + 2 + 122);
  CHECK(webim::isValidUtf8(std::string_view(frame).substr(4)));
  CHECK(encodeCloseFrame(1008, std::string(200, 'r')).size() == 2 + 125);
}
