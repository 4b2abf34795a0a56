// RFC 6455 frame parsing (client -> server) and encoding (server -> client).
// Hand-written on purpose (docs/architecture.md, "Libraries before hand-written code"): a library
// parser would cost the per-connection memory budget.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/utf8.h"

namespace webim {

enum class WsOpcode : uint8_t { Continuation = 0, Text = 1, Binary = 2, Close = 8, Ping = 9, Pong = 10 };

struct WsLimits {
  size_t maxMessageBytes = 64 * 1024;  // whole (reassembled) message; values >= 4 GiB are clamped
  size_t maxFragments = 1024;          // frames per message, including the first
};

// Close codes used by the parser (docs/protocol.md section 1).
inline constexpr uint16_t kWsCloseNormal = 1000;
inline constexpr uint16_t kWsCloseProtocolError = 1002;
inline constexpr uint16_t kWsCloseNoStatus = 1005;  // reported, never sent
inline constexpr uint16_t kWsCloseInvalidPayload = 1007;
inline constexpr uint16_t kWsCloseTooBig = 1009;
inline constexpr size_t kWsMaxControlPayload = 125;
inline constexpr size_t kWsMaxFrameHeader = 10;  // server frames: unmasked

// Callbacks of the frame parser. Views are valid only during the call.
class WsFrameHandler {
 public:
  virtual ~WsFrameHandler() = default;
  virtual void onMessage(WsOpcode opcode, std::string_view payload) = 0;  // complete, unmasked; Text already UTF-8 validated
  virtual void onPing(std::string_view payload) = 0;
  virtual void onPong(std::string_view payload) = 0;
  virtual void onClose(uint16_t code, std::string_view reason) = 0;       // code 1005 when the frame had no body
  virtual void onProtocolError(uint16_t closeCode, const char* why) = 0;  // 1002, 1007, 1009, ...; the parser is dead after this
};

// Push-style server-side RFC 6455 frame parser. Small state (fits the per-connection memory budget: keep
// sizeof(WsFrameParser) small, no buffers while idle); a partial frame header is kept in a few bytes;
// a message's payload is copied into an owned buffer only when it spans several reads or several fragments.
// Client frames must be masked (1002 otherwise); RSV bits and unknown opcodes -> 1002; control frames
// must be FIN and <= 125 bytes; continuation without a started message or a new data frame inside
// a fragmented message -> 1002; control frames may interleave fragments; declared length > limit -> 1009
// before allocating (also for a 2^63 length; a 64-bit length with the top bit set -> 1002); more than
// maxFragments fragments -> 1009; Text validated incrementally across fragments, failing fast with 1007;
// close payload: 1 byte -> 1002, invalid code (RFC 6455 7.4 / IANA: 1004-1006, 1015, <1000, 1016-2999 are invalid) -> 1002,
// reason not UTF-8 -> 1007. After onClose or onProtocolError, consume() ignores further input.
// Also: a length not in its minimal encoding (RFC 6455 5.2 "MUST") -> 1002.
//
// Memory: the owned buffer grows with the bytes that actually arrived (not with the declared length),
// and is freed as soon as the message it holds has been delivered. A frame received whole in one read
// is unmasked into a stack buffer (small frames) or one scratch buffer per thread (= per loop).
// The handler may call into other parsers (even consume()), but must not destroy this parser from a
// callback (connections are freed at the end of the loop iteration, docs/architecture.md rule 3).
class WsFrameParser {
 public:
  explicit WsFrameParser(const WsLimits* limits);  // limits shared by all connections of a loop (not copied)
  ~WsFrameParser();
  WsFrameParser(WsFrameParser&& other) noexcept;
  WsFrameParser& operator=(WsFrameParser&& other) noexcept;
  WsFrameParser(const WsFrameParser&) = delete;
  WsFrameParser& operator=(const WsFrameParser&) = delete;

  // Consumes all of `bytes` (calling handler callbacks as frames complete). Returns false once the
  // stream is finished (close received or protocol error).
  bool consume(std::string_view bytes, WsFrameHandler& handler);
  bool idle() const noexcept;  // no partial frame or message is held
  void releaseBuffers();       // frees the message buffer if idle
  bool finished() const noexcept { return finished_; }
  size_t bufferCapacity() const noexcept { return capacity_; }  // owned bytes (for tests and metrics)

 private:
  bool beginFrame(const uint8_t* header, WsFrameHandler& handler);
  bool checkFirstBytes(uint8_t b0, uint8_t b1, WsFrameHandler& handler);
  bool deliverWhole(const uint8_t* payload, WsFrameHandler& handler);
  bool appendPayload(const uint8_t* payload, size_t n, WsFrameHandler& handler);
  bool finishFrame(WsFrameHandler& handler);
  bool dispatchControl(WsOpcode opcode, std::string_view payload, WsFrameHandler& handler);
  bool fail(uint16_t closeCode, const char* why, WsFrameHandler& handler);
  void ensureCapacity(size_t needed);
  void freeBuffer() noexcept;
  size_t maxMessageBytes() const noexcept;

  const WsLimits* limits_;
  char* buffer_ = nullptr;      // [0, messageSize_): message so far; then a split control payload
  uint32_t messageSize_ = 0;
  uint32_t capacity_ = 0;
  uint64_t remaining_ = 0;      // payload bytes of the current frame not yet read
  Utf8Validator utf8_;          // across the fragments of a Text message
  uint32_t fragments_ = 0;      // frames of the current message
  uint8_t mask_[4] = {};
  uint8_t header_[14] = {};     // partial frame header: 2 + up to 8 length + 4 mask bytes
  uint8_t headerSize_ = 0;
  uint8_t maskOffset_ = 0;      // payload bytes of the current frame read so far, mod 4
  uint8_t controlSize_ = 0;     // bytes of a split control payload held after the message bytes
  WsOpcode opcode_ = WsOpcode::Continuation;         // current frame
  WsOpcode messageOpcode_ = WsOpcode::Continuation;  // Text/Binary while a message is being reassembled
  bool fin_ = false;
  bool inPayload_ = false;
  bool finished_ = false;
};

// Server frames are never masked. Header is at most 10 bytes.
size_t writeFrameHeader(uint8_t* out, WsOpcode opcode, uint64_t payloadLength, bool fin = true) noexcept;
std::string encodeFrame(WsOpcode opcode, std::string_view payload);
// Code 1005 encodes an empty close body. The reason is cut to 123 bytes on a UTF-8 code point boundary.
std::string encodeCloseFrame(uint16_t code, std::string_view reason = {});
bool isValidCloseCode(uint16_t code) noexcept;

}  // namespace webim
