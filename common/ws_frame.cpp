#include "common/ws_frame.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include "common/big_endian.h"

namespace webim {
namespace {

constexpr uint8_t kFinBit = 0x80;
constexpr uint8_t kRsvBits = 0x70;
constexpr uint8_t kOpcodeBits = 0x0F;
constexpr uint8_t kMaskBit = 0x80;
constexpr uint8_t kLengthBits = 0x7F;
constexpr uint8_t kLength16 = 126;
constexpr uint8_t kLength64 = 127;
constexpr uint64_t kTopBit64 = uint64_t{1} << 63;
constexpr size_t kMaskSize = 4;
constexpr size_t kCloseCodeSize = 2;
constexpr size_t kMaxCloseReason = kWsMaxControlPayload - kCloseCodeSize;
// Frames received whole and at most this long are unmasked on the stack; most chat messages are.
constexpr size_t kStackScratch = 2048;
constexpr uint32_t kMinCapacity = 64;
// The owned buffer is indexed with 32 bits (keeps the parser small); larger limits are clamped.
constexpr size_t kMaxBufferable = UINT32_MAX - kWsMaxControlPayload;

bool isControl(WsOpcode opcode) noexcept { return (static_cast<uint8_t>(opcode) & 0x08) != 0; }

bool isKnownOpcode(uint8_t opcode) noexcept {
  switch (static_cast<WsOpcode>(opcode)) {
    case WsOpcode::Continuation:
    case WsOpcode::Text:
    case WsOpcode::Binary:
    case WsOpcode::Close:
    case WsOpcode::Ping:
    case WsOpcode::Pong:
      return true;
  }
  return false;
}

size_t headerLength(uint8_t b1) noexcept {
  const uint8_t len7 = b1 & kLengthBits;
  const size_t extended = len7 == kLength16 ? 2 : len7 == kLength64 ? 8 : 0;
  return 2 + extended + ((b1 & kMaskBit) ? kMaskSize : 0);
}

// XORs n bytes with the masking key, starting `offset` bytes into the key; returns the next offset.
uint8_t unmask(char* dst, const uint8_t* src, size_t n, const uint8_t* mask, uint8_t offset) noexcept {
  uint8_t rotated[8];
  for (size_t k = 0; k < sizeof rotated; ++k) rotated[k] = mask[(offset + k) & 3];
  uint64_t mask64;
  std::memcpy(&mask64, rotated, sizeof mask64);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t word;
    std::memcpy(&word, src + i, sizeof word);
    word ^= mask64;
    std::memcpy(dst + i, &word, sizeof word);
  }
  for (; i < n; ++i) dst[i] = static_cast<char>(src[i] ^ rotated[i & 7]);
  return static_cast<uint8_t>((offset + n) & 3);
}

// One scratch buffer per thread (one loop per thread) for large frames received whole. A nested use
// (a handler feeding another parser from inside onMessage) falls back to a private buffer.
class ScratchLease {
 public:
  explicit ScratchLease(size_t size) {
    static thread_local std::string shared;
    static thread_local bool busy = false;
    if (!busy) {
      busy = true;
      busy_ = &busy;
      buffer_ = &shared;
    } else {
      buffer_ = &private_;
    }
    if (buffer_->size() < size) buffer_->resize(size);
  }
  ~ScratchLease() {
    if (busy_) *busy_ = false;
  }
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;
  char* data() { return buffer_->data(); }

 private:
  std::string private_;
  std::string* buffer_;
  bool* busy_ = nullptr;
};

}  // namespace

WsFrameParser::WsFrameParser(const WsLimits* limits) : limits_(limits) {}

WsFrameParser::~WsFrameParser() { freeBuffer(); }

WsFrameParser::WsFrameParser(WsFrameParser&& other) noexcept : limits_(other.limits_) { *this = std::move(other); }

WsFrameParser& WsFrameParser::operator=(WsFrameParser&& other) noexcept {
  if (this == &other) return *this;
  freeBuffer();
  limits_ = other.limits_;
  buffer_ = std::exchange(other.buffer_, nullptr);
  messageSize_ = std::exchange(other.messageSize_, 0);
  capacity_ = std::exchange(other.capacity_, 0);
  remaining_ = other.remaining_;
  utf8_ = other.utf8_;
  fragments_ = other.fragments_;
  std::memcpy(mask_, other.mask_, sizeof mask_);
  std::memcpy(header_, other.header_, sizeof header_);
  headerSize_ = other.headerSize_;
  maskOffset_ = other.maskOffset_;
  controlSize_ = std::exchange(other.controlSize_, 0);
  opcode_ = other.opcode_;
  messageOpcode_ = std::exchange(other.messageOpcode_, WsOpcode::Continuation);
  fin_ = other.fin_;
  inPayload_ = std::exchange(other.inPayload_, false);
  finished_ = std::exchange(other.finished_, true);  // a moved-from parser holds nothing and accepts nothing
  return *this;
}

size_t WsFrameParser::maxMessageBytes() const noexcept { return std::min(limits_->maxMessageBytes, kMaxBufferable); }

bool WsFrameParser::idle() const noexcept {
  return finished_ || (!inPayload_ && headerSize_ == 0 && messageOpcode_ == WsOpcode::Continuation);
}

void WsFrameParser::releaseBuffers() {
  if (idle()) freeBuffer();
}

void WsFrameParser::freeBuffer() noexcept {
  std::free(buffer_);
  buffer_ = nullptr;
  capacity_ = 0;
}

void WsFrameParser::ensureCapacity(size_t needed) {
  if (needed <= capacity_) return;
  // Geometric growth keeps many small fragments linear; the cap keeps it within the limit.
  const size_t cap = maxMessageBytes() + kWsMaxControlPayload;
  const size_t grown = std::max<size_t>(needed, std::min<size_t>(std::max<size_t>(size_t{capacity_} * 2, kMinCapacity), cap));
  void* p = std::realloc(buffer_, grown);
  if (p == nullptr) throw std::bad_alloc();
  buffer_ = static_cast<char*>(p);
  capacity_ = static_cast<uint32_t>(grown);
}

bool WsFrameParser::fail(uint16_t closeCode, const char* why, WsFrameHandler& handler) {
  finished_ = true;
  inPayload_ = false;
  headerSize_ = 0;
  messageOpcode_ = WsOpcode::Continuation;
  handler.onProtocolError(closeCode, why);
  freeBuffer();
  return false;
}

bool WsFrameParser::checkFirstBytes(uint8_t b0, uint8_t b1, WsFrameHandler& handler) {
  if (b0 & kRsvBits) return fail(kWsCloseProtocolError, "reserved bits set (no extension negotiated)", handler);
  const uint8_t op = b0 & kOpcodeBits;
  if (!isKnownOpcode(op)) return fail(kWsCloseProtocolError, "unknown opcode", handler);
  if (!(b1 & kMaskBit)) return fail(kWsCloseProtocolError, "client frame not masked", handler);
  const auto opcode = static_cast<WsOpcode>(op);
  const bool inMessage = messageOpcode_ != WsOpcode::Continuation;
  if (isControl(opcode)) {
    if (!(b0 & kFinBit)) return fail(kWsCloseProtocolError, "fragmented control frame", handler);
    if ((b1 & kLengthBits) > kWsMaxControlPayload) return fail(kWsCloseProtocolError, "control frame over 125 bytes", handler);
  } else if (opcode == WsOpcode::Continuation) {
    if (!inMessage) return fail(kWsCloseProtocolError, "continuation without a started message", handler);
  } else if (inMessage) {
    return fail(kWsCloseProtocolError, "new data frame inside a fragmented message", handler);
  }
  return true;
}

bool WsFrameParser::beginFrame(const uint8_t* h, WsFrameHandler& handler) {
  if (!checkFirstBytes(h[0], h[1], handler)) return false;
  const uint8_t len7 = h[1] & kLengthBits;
  uint64_t length = len7;
  size_t at = 2;
  if (len7 == kLength16) {
    length = loadBigEndian<uint16_t>(h + 2);
    at = 4;
    if (length < kLength16) return fail(kWsCloseProtocolError, "non-minimal payload length", handler);
  } else if (len7 == kLength64) {
    length = loadBigEndian<uint64_t>(h + 2);
    at = 10;
    if (length & kTopBit64) return fail(kWsCloseProtocolError, "64-bit payload length with the top bit set", handler);
    if (length <= 0xFFFF) return fail(kWsCloseProtocolError, "non-minimal payload length", handler);
  }
  opcode_ = static_cast<WsOpcode>(h[0] & kOpcodeBits);
  fin_ = (h[0] & kFinBit) != 0;
  if (!isControl(opcode_)) {
    // Checked on the declared length, before any byte of it is buffered.
    if (length > maxMessageBytes() - messageSize_) return fail(kWsCloseTooBig, "message too big", handler);
    if (opcode_ == WsOpcode::Continuation) {
      if (++fragments_ > limits_->maxFragments) return fail(kWsCloseTooBig, "too many fragments", handler);
    } else {
      fragments_ = 1;
    }
  }
  std::memcpy(mask_, h + at, kMaskSize);
  maskOffset_ = 0;
  remaining_ = length;
  return true;
}

bool WsFrameParser::consume(std::string_view bytes, WsFrameHandler& handler) {
  if (finished_) return false;
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const auto* end = p + bytes.size();
  while (!finished_) {
    if (!inPayload_) {
      if (p == end) break;
      const uint8_t* header;
      if (headerSize_ == 0 && end - p >= 2 && static_cast<size_t>(end - p) >= headerLength(p[1])) {
        header = p;  // whole header in this read: parse in place
        p += headerLength(p[1]);
      } else {
        // Keep a partial header in header_ (at most 14 bytes); check the first two bytes early.
        if (headerSize_ < 2) {
          const size_t n = std::min<size_t>(2 - headerSize_, end - p);
          std::memcpy(header_ + headerSize_, p, n);
          headerSize_ = static_cast<uint8_t>(headerSize_ + n);
          p += n;
          if (headerSize_ < 2) break;
          if (!checkFirstBytes(header_[0], header_[1], handler)) return false;
        }
        const size_t needed = headerLength(header_[1]);
        const size_t n = std::min<size_t>(needed - headerSize_, end - p);
        std::memcpy(header_ + headerSize_, p, n);
        headerSize_ = static_cast<uint8_t>(headerSize_ + n);
        p += n;
        if (headerSize_ < needed) break;
        header = header_;
        headerSize_ = 0;
      }
      if (!beginFrame(header, handler)) return false;
      const bool inMessage = messageOpcode_ != WsOpcode::Continuation;
      if (remaining_ <= static_cast<uint64_t>(end - p) && (isControl(opcode_) || (fin_ && !inMessage))) {
        // The whole frame is here and is a whole message (or a control frame): no owned buffer.
        const uint8_t* payload = p;
        p += remaining_;
        if (!deliverWhole(payload, handler)) return false;
        continue;
      }
      if (!isControl(opcode_) && opcode_ != WsOpcode::Continuation) {
        messageOpcode_ = opcode_;
        utf8_.reset();
      }
      inPayload_ = true;
    }
    const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, static_cast<uint64_t>(end - p)));
    if (!appendPayload(p, n, handler)) return false;
    p += n;
    remaining_ -= n;
    if (remaining_ > 0) break;
    inPayload_ = false;
    if (!finishFrame(handler)) return false;
  }
  return !finished_;
}

bool WsFrameParser::deliverWhole(const uint8_t* payload, WsFrameHandler& handler) {
  const auto length = static_cast<size_t>(remaining_);
  remaining_ = 0;
  char stack[kStackScratch];
  if (isControl(opcode_)) {
    unmask(stack, payload, length, mask_, 0);
    return dispatchControl(opcode_, std::string_view(stack, length), handler);
  }
  fragments_ = 0;
  auto deliver = [&](char* scratch) {
    unmask(scratch, payload, length, mask_, 0);
    const std::string_view message(scratch, length);
    if (opcode_ == WsOpcode::Text && !isValidUtf8(message)) {
      return fail(kWsCloseInvalidPayload, "invalid UTF-8 in text message", handler);
    }
    handler.onMessage(opcode_, message);
    return true;
  };
  if (length <= sizeof stack) return deliver(stack);
  ScratchLease scratch(length);
  return deliver(scratch.data());
}

bool WsFrameParser::appendPayload(const uint8_t* payload, size_t n, WsFrameHandler& handler) {
  if (isControl(opcode_)) {
    ensureCapacity(size_t{messageSize_} + controlSize_ + n);
    maskOffset_ = unmask(buffer_ + messageSize_ + controlSize_, payload, n, mask_, maskOffset_);
    controlSize_ = static_cast<uint8_t>(controlSize_ + n);
    return true;
  }
  if (n == 0) return true;
  ensureCapacity(size_t{messageSize_} + n);
  char* dst = buffer_ + messageSize_;
  maskOffset_ = unmask(dst, payload, n, mask_, maskOffset_);
  messageSize_ += static_cast<uint32_t>(n);
  // Fail fast (RFC 6455 8.1): reject as soon as the text can no longer be valid, not at the end.
  if (messageOpcode_ == WsOpcode::Text && !utf8_.feed(std::string_view(dst, n))) {
    return fail(kWsCloseInvalidPayload, "invalid UTF-8 in text message", handler);
  }
  return true;
}

bool WsFrameParser::finishFrame(WsFrameHandler& handler) {
  if (isControl(opcode_)) {
    const std::string_view payload(buffer_ + messageSize_, controlSize_);
    controlSize_ = 0;
    if (!dispatchControl(opcode_, payload, handler)) return false;
    if (messageOpcode_ == WsOpcode::Continuation) freeBuffer();
    return true;
  }
  if (!fin_) return true;
  if (messageOpcode_ == WsOpcode::Text && !utf8_.complete()) {
    return fail(kWsCloseInvalidPayload, "text message ends inside a UTF-8 sequence", handler);
  }
  const WsOpcode opcode = messageOpcode_;
  const std::string_view message(buffer_, messageSize_);
  messageOpcode_ = WsOpcode::Continuation;
  messageSize_ = 0;
  fragments_ = 0;
  utf8_.reset();
  handler.onMessage(opcode, message);
  freeBuffer();  // no buffer while idle
  return true;
}

bool WsFrameParser::dispatchControl(WsOpcode opcode, std::string_view payload, WsFrameHandler& handler) {
  switch (opcode) {
    case WsOpcode::Ping:
      handler.onPing(payload);
      return true;
    case WsOpcode::Pong:
      handler.onPong(payload);
      return true;
    case WsOpcode::Close:
      break;
    default:
      return true;  // unreachable: only control opcodes get here
  }
  uint16_t code = kWsCloseNoStatus;
  std::string_view reason;
  if (payload.size() == 1) return fail(kWsCloseProtocolError, "close frame with a 1-byte body", handler);
  if (payload.size() >= kCloseCodeSize) {
    code = loadBigEndian<uint16_t>(payload.data());
    reason = payload.substr(kCloseCodeSize);
    if (!isValidCloseCode(code)) return fail(kWsCloseProtocolError, "invalid close code", handler);
    if (!isValidUtf8(reason)) return fail(kWsCloseInvalidPayload, "close reason is not UTF-8", handler);
  }
  finished_ = true;
  messageOpcode_ = WsOpcode::Continuation;
  handler.onClose(code, reason);
  freeBuffer();
  return false;
}

size_t writeFrameHeader(uint8_t* out, WsOpcode opcode, uint64_t payloadLength, bool fin) noexcept {
  out[0] = static_cast<uint8_t>((fin ? kFinBit : 0) | static_cast<uint8_t>(opcode));
  if (payloadLength < kLength16) {
    out[1] = static_cast<uint8_t>(payloadLength);
    return 2;
  }
  if (payloadLength <= 0xFFFF) {
    out[1] = kLength16;
    storeBigEndian(out + 2, static_cast<uint16_t>(payloadLength));
    return 4;
  }
  out[1] = kLength64;
  storeBigEndian(out + 2, payloadLength);
  return kWsMaxFrameHeader;
}

std::string encodeFrame(WsOpcode opcode, std::string_view payload) {
  uint8_t header[kWsMaxFrameHeader];
  const size_t headerSize = writeFrameHeader(header, opcode, payload.size());
  std::string frame;
  frame.reserve(headerSize + payload.size());
  frame.append(reinterpret_cast<const char*>(header), headerSize).append(payload);
  return frame;
}

std::string encodeCloseFrame(uint16_t code, std::string_view reason) {
  if (code == kWsCloseNoStatus) return encodeFrame(WsOpcode::Close, {});
  if (reason.size() > kMaxCloseReason) {
    size_t cut = kMaxCloseReason;
    // Back up to a code point boundary: never cut between a lead byte and its continuation bytes.
    while (cut > 0 && (static_cast<uint8_t>(reason[cut]) & 0xC0) == 0x80) --cut;
    reason = reason.substr(0, cut);
  }
  char payload[kWsMaxControlPayload];
  storeBigEndian(payload, code);
  if (!reason.empty()) std::memcpy(payload + kCloseCodeSize, reason.data(), reason.size());
  return encodeFrame(WsOpcode::Close, std::string_view(payload, kCloseCodeSize + reason.size()));
}

bool isValidCloseCode(uint16_t code) noexcept {
  // RFC 6455 7.4.1 plus IANA registrations 1012-1014; 1004-1006 and 1015 must never be on the wire;
  // 3000-3999 are registered by libraries/frameworks, 4000-4999 are private (docs/protocol.md uses 40xx).
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

}  // namespace webim
