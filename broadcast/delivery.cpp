#include "broadcast/delivery.h"

#include <cstring>

namespace webim::hub {

namespace {

// Protobuf wire format (proto/webim.proto, message Delivery): key = field number << 3 | wire type.
constexpr uint8_t kChannelKey = 1 << 3 | 2;  // string channel = 1 (length-delimited)
constexpr uint8_t kEpochKey = 2 << 3 | 1;    // fixed64 epoch = 2
constexpr uint8_t kSeqKey = 3 << 3 | 0;      // uint64 seq = 3 (varint)
constexpr uint8_t kFromKey = 4 << 3 | 2;     // string from = 4
constexpr uint8_t kTsKey = 5 << 3 | 0;       // int64 ts_ms = 5 (varint; a negative one takes 10 bytes)
constexpr uint8_t kDataKey = 6 << 3 | 2;     // bytes data = 6
// Edit and delete: field 15's key is one byte, 16's and 17's are two-byte varints.
constexpr uint8_t kEditOfKey = 15 << 3 | 0;        // uint64 edit_of = 15
constexpr uint16_t kDeleteOfKey = 16 << 3 | 0;     // uint64 delete_of = 16
constexpr uint16_t kDeletedKey = 17 << 3 | 0;      // bool deleted = 17
constexpr uint16_t kNoticeChannelKey = 18 << 3 | 2;  // string notice_channel = 18 (two-byte key)
constexpr uint16_t kNoticeSeqKey = 19 << 3 | 0;      // uint64 notice_seq = 19

size_t varintSize(uint64_t v) {
  size_t n = 1;
  for (; v >= 0x80; v >>= 7) ++n;
  return n;
}

char* putVarint(char* out, uint64_t v) {
  for (; v >= 0x80; v >>= 7) *out++ = static_cast<char>(static_cast<uint8_t>(v) | 0x80);
  *out++ = static_cast<char>(v);
  return out;
}

size_t bytesFieldSize(const std::string& s) { return s.empty() ? 0 : 1 + varintSize(s.size()) + s.size(); }

char* putBytesField(char* out, uint8_t key, const std::string& s) {
  if (s.empty()) return out;
  *out++ = static_cast<char>(key);
  out = putVarint(out, s.size());
  std::memcpy(out, s.data(), s.size());
  return out + s.size();
}

char* putVarintField(char* out, uint8_t key, uint64_t v) {
  if (v == 0) return out;
  *out++ = static_cast<char>(key);
  return putVarint(out, v);
}

}  // namespace

size_t encodedDeliverySize(const StoredMessage& m) {
  const auto ts = static_cast<uint64_t>(m.tsMs);
  return bytesFieldSize(m.channel) + (m.epoch != 0 ? 9 : 0) + (m.seq != 0 ? 1 + varintSize(m.seq) : 0) +
         bytesFieldSize(m.from) + (ts != 0 ? 1 + varintSize(ts) : 0) + bytesFieldSize(m.data) +
         (m.editOf != 0 ? 1 + varintSize(m.editOf) : 0) + (m.deleteOf != 0 ? 2 + varintSize(m.deleteOf) : 0) +
         (m.deleted ? 3 : 0) +
         (m.noticeChannel.empty() ? 0 : 2 + varintSize(m.noticeChannel.size()) + m.noticeChannel.size()) +
         (m.noticeSeq != 0 ? 2 + varintSize(m.noticeSeq) : 0);
}

char* encodeDelivery(const StoredMessage& m, char* out) {
  out = putBytesField(out, kChannelKey, m.channel);
  if (m.epoch != 0) {
    *out++ = static_cast<char>(kEpochKey);
    for (int i = 0; i < 8; ++i) *out++ = static_cast<char>(static_cast<uint8_t>(m.epoch >> (8 * i)));  // little-endian
  }
  out = putVarintField(out, kSeqKey, m.seq);
  out = putBytesField(out, kFromKey, m.from);
  out = putVarintField(out, kTsKey, static_cast<uint64_t>(m.tsMs));
  out = putBytesField(out, kDataKey, m.data);
  out = putVarintField(out, kEditOfKey, m.editOf);
  if (m.deleteOf != 0) out = putVarint(putVarint(out, kDeleteOfKey), m.deleteOf);
  if (m.deleted) out = putVarint(putVarint(out, kDeletedKey), 1);
  if (!m.noticeChannel.empty()) {
    out = putVarint(putVarint(out, kNoticeChannelKey), m.noticeChannel.size());
    std::memcpy(out, m.noticeChannel.data(), m.noticeChannel.size());
    out += m.noticeChannel.size();
  }
  if (m.noticeSeq != 0) out = putVarint(putVarint(out, kNoticeSeqKey), m.noticeSeq);
  return out;
}

std::string syncMarker(const std::string& channel, const ChannelMeta& meta) {
  wire::Delivery sync;
  sync.set_channel(channel);
  sync.set_sync(true);
  sync.set_epoch(meta.epoch);
  sync.set_seq(meta.lastSeq);
  return sync.SerializeAsString();
}

std::string bootMarker(uint64_t bootId) {
  wire::Delivery boot;
  boot.set_sync(true);
  boot.set_epoch(bootId);
  return boot.SerializeAsString();
}

}  // namespace webim::hub
