#include "broadcast/rocksdb_records.h"

#include "common/big_endian.h"

namespace webim::hub::rocks {

namespace {

constexpr size_t kMessageFixedSize = 1 + 8 + 8 + 8 + 4;
// v2 (edit and delete entries, deleted messages): v1's fixed part, then flags(1) ref(8).
constexpr size_t kMessageV2FixedSize = kMessageFixedSize + 1 + 8;
constexpr uint8_t kFlagEdit = 1, kFlagDelete = 2, kFlagDeleted = 4, kFlagNotice = 8;

bool isMessageRecord(std::string_view record) {
  return (record.size() >= kMessageFixedSize && record[0] == kRecordVersion) ||
         (record.size() >= kMessageV2FixedSize && record[0] == kMessageRecordV2);
}
constexpr size_t kMetaSize = 1 + 8 + 8;
constexpr size_t kDedupFixedSize = 1 + 8 + 8 + 8;
constexpr size_t kRevocationSize = 1 + 8;

[[noreturn]] void corrupt(const char* kind) { throw HistoryStoreError(std::string("corrupt ") + kind + " record"); }

// A protobuf reader over the wire format's four primitive encodings (enough for format 0).
class ProtoReader {
 public:
  explicit ProtoReader(std::string_view in) : in_(in) {}
  bool done() const { return pos_ == in_.size(); }
  bool varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ == in_.size()) return false;
      const auto byte = static_cast<unsigned char>(in_[pos_++]);
      v |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }
  bool fixed(size_t n, uint64_t& v) {  // little-endian
    if (in_.size() - pos_ < n) return false;
    v = 0;
    for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(in_[pos_ + i])) << (8 * i);
    pos_ += n;
    return true;
  }
  bool bytes(std::string_view& v) {
    uint64_t n = 0;
    if (!varint(n) || n > in_.size() - pos_) return false;
    v = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace

std::string channelPrefix(std::string_view channel) {
  std::string key;
  key.reserve(1 + channel.size() + 1 + 8);
  key.push_back(kMessagePrefix);
  key.append(channel);
  key.push_back('\0');
  return key;
}

std::string channelEnd(std::string_view channel) {
  std::string key = channelPrefix(channel);
  key.back() = '\1';
  return key;
}

std::string messageKey(std::string_view channel, uint64_t seq) {
  std::string key = channelPrefix(channel);
  appendBigEndian<uint64_t>(key, seq);
  return key;
}

uint64_t messageKeySeq(std::string_view key) {
  if (key.size() < 1 + 1 + 8) corrupt("message key");
  return loadBigEndian<uint64_t>(key.data() + key.size() - 8);
}

std::string metaKey(std::string_view channel) {
  std::string key(1, kMetaPrefix);
  key.append(channel);
  return key;
}

std::string dedupKey(std::string_view from, std::string_view cid) {
  std::string key(1, kDedupPrefix);
  key.append(from);
  key.push_back('\0');
  key.append(cid);
  return key;
}

std::string senderPrefix(std::string_view from) {
  std::string key(1, kSenderPrefix);
  key.append(from);
  key.push_back('\0');
  return key;
}

std::string senderKey(std::string_view from, std::string_view channel, uint64_t seq) {
  std::string key = senderPrefix(from);
  key.append(channel);
  key.push_back('\0');
  appendBigEndian<uint64_t>(key, seq);
  return key;
}

std::string editPrefix(std::string_view channel, uint64_t seq) {
  std::string key(1, kEditPrefix);
  key.append(channel);
  key.push_back('\0');
  appendBigEndian<uint64_t>(key, seq);
  return key;
}

std::string editKey(std::string_view channel, uint64_t seq, uint64_t edit) {
  std::string key = editPrefix(channel, seq);
  appendBigEndian<uint64_t>(key, edit);
  return key;
}

bool parseSenderKey(std::string_view key, size_t fromSize, std::string& channel, uint64_t& seq) {
  const size_t head = 1 + fromSize + 1;
  if (key.size() < head + 1 + 8 || key[key.size() - 9] != '\0') return false;
  channel.assign(key.substr(head, key.size() - 9 - head));
  seq = loadBigEndian<uint64_t>(key.data() + key.size() - 8);
  return true;
}

std::string revocationKey(std::string_view user) {
  std::string key(1, kRevocationPrefix);
  key.append(user);
  return key;
}

std::string cursorKey(std::string_view channel, std::string_view user) {
  std::string key(1, kCursorPrefix);
  key.append(channel);
  key.push_back('\0');
  key.append(user);
  return key;
}

// Plain messages keep the v1 layout (byte for byte what earlier releases wrote); v2 only for the
// records that need its flags.
std::string encodeMessage(const StoredMessage& m) {
  const bool v2 = m.editOf != 0 || m.deleteOf != 0 || m.deleted || m.noticeSeq != 0;
  std::string v;
  v.reserve(kMessageV2FixedSize + m.from.size() + m.data.size());
  v.push_back(v2 ? kMessageRecordV2 : kRecordVersion);
  appendBigEndian<uint64_t>(v, m.epoch);
  appendBigEndian<uint64_t>(v, m.seq);
  appendBigEndian<uint64_t>(v, static_cast<uint64_t>(m.tsMs));
  appendBigEndian<uint32_t>(v, static_cast<uint32_t>(m.from.size()));
  if (v2) {
    v.push_back(static_cast<char>((m.editOf != 0 ? kFlagEdit : 0) | (m.deleteOf != 0 ? kFlagDelete : 0) |
                                  (m.deleted ? kFlagDeleted : 0) | (m.noticeSeq != 0 ? kFlagNotice : 0)));
    appendBigEndian<uint64_t>(v, m.editOf != 0 ? m.editOf : m.deleteOf != 0 ? m.deleteOf : m.noticeSeq);
  }
  v.append(m.from);
  v.append(m.noticeSeq != 0 ? m.noticeChannel : m.data);  // a notice has no data: its dm channel instead
  return v;
}

StoredMessage decodeMessage(std::string_view channel, std::string_view record) {
  if (!isMessageRecord(record)) corrupt("message");
  const char* p = record.data();
  const size_t fixed = record[0] == kRecordVersion ? kMessageFixedSize : kMessageV2FixedSize;
  const uint32_t fromSize = loadBigEndian<uint32_t>(p + 25);
  if (record.size() - fixed < fromSize) corrupt("message");
  StoredMessage m{std::string(channel),
                  loadBigEndian<uint64_t>(p + 1),
                  loadBigEndian<uint64_t>(p + 9),
                  std::string(record.substr(fixed, fromSize)),
                  static_cast<int64_t>(loadBigEndian<uint64_t>(p + 17)),
                  std::string(record.substr(fixed + fromSize))};
  if (fixed == kMessageV2FixedSize) {
    const auto flags = static_cast<uint8_t>(p[29]);
    const uint64_t ref = loadBigEndian<uint64_t>(p + 30);
    if ((flags & kFlagEdit) != 0) m.editOf = ref;
    if ((flags & kFlagDelete) != 0) m.deleteOf = ref;
    m.deleted = (flags & kFlagDeleted) != 0;
    if ((flags & kFlagNotice) != 0) {
      m.noticeSeq = ref;
      m.noticeChannel = std::move(m.data);
      m.data.clear();
    }
  }
  return m;
}

int64_t decodeMessageTs(std::string_view record) {
  if (!isMessageRecord(record)) corrupt("message");
  return static_cast<int64_t>(loadBigEndian<uint64_t>(record.data() + 17));
}

std::string encodeMeta(const ChannelMeta& meta) {
  std::string v(1, kRecordVersion);
  appendBigEndian<uint64_t>(v, meta.epoch);
  appendBigEndian<uint64_t>(v, meta.lastSeq);
  return v;
}

ChannelMeta decodeMeta(std::string_view record) {
  if (record.size() != kMetaSize || record[0] != kRecordVersion) corrupt("meta");
  return ChannelMeta{loadBigEndian<uint64_t>(record.data() + 1), loadBigEndian<uint64_t>(record.data() + 9)};
}

std::string encodeDedup(const DedupRecord& r) {
  std::string v(1, kRecordVersion);
  appendBigEndian<uint64_t>(v, r.epoch);
  appendBigEndian<uint64_t>(v, r.seq);
  appendBigEndian<uint64_t>(v, static_cast<uint64_t>(r.tsMs));
  v.append(r.channel);
  return v;
}

DedupRecord decodeDedup(std::string_view record) {
  if (record.size() < kDedupFixedSize || record[0] != kRecordVersion) corrupt("dedup");
  const char* p = record.data();
  return DedupRecord{std::string(record.substr(kDedupFixedSize)), loadBigEndian<uint64_t>(p + 1), loadBigEndian<uint64_t>(p + 9),
                     static_cast<int64_t>(loadBigEndian<uint64_t>(p + 17))};
}

std::string encodeRevocation(int64_t notBeforeMs) {
  std::string v(1, kRecordVersion);
  appendBigEndian<uint64_t>(v, static_cast<uint64_t>(notBeforeMs));
  return v;
}

int64_t decodeRevocation(std::string_view record) {
  if (record.size() != kRevocationSize || record[0] != kRecordVersion) corrupt("revocation");
  return static_cast<int64_t>(loadBigEndian<uint64_t>(record.data() + 1));
}

std::string encodeCursor(uint64_t seq) {
  std::string v(1, kRecordVersion);
  appendBigEndian<uint64_t>(v, seq);
  return v;
}

uint64_t decodeCursor(std::string_view record) {
  if (record.size() != 9 || record[0] != kRecordVersion) corrupt("read cursor");
  return loadBigEndian<uint64_t>(record.data() + 1);
}

std::string encodeFormatVersion(uint32_t version) {
  std::string v;
  appendBigEndian<uint32_t>(v, version);
  return v;
}

uint32_t decodeFormatVersion(std::string_view record) {
  if (record.size() != 4) corrupt("format version");
  return loadBigEndian<uint32_t>(record.data());
}

bool isLegacyMessage(std::string_view record) {
  return record.empty() || (record[0] != kRecordVersion && record[0] != kMessageRecordV2);
}

std::optional<StoredMessage> decodeLegacyDelivery(std::string_view record) {
  StoredMessage m;
  ProtoReader in(record);
  while (!in.done()) {
    uint64_t tag = 0, v = 0;
    std::string_view s;
    if (!in.varint(tag) || (tag >> 3) == 0) return std::nullopt;
    switch (tag & 7) {
      case 0:
        if (!in.varint(v)) return std::nullopt;
        if ((tag >> 3) == 3) m.seq = v;
        if ((tag >> 3) == 5) m.tsMs = static_cast<int64_t>(v);
        break;
      case 1:
        if (!in.fixed(8, v)) return std::nullopt;
        if ((tag >> 3) == 2) m.epoch = v;
        break;
      case 2:
        if (!in.bytes(s)) return std::nullopt;
        if ((tag >> 3) == 1) m.channel = s;
        if ((tag >> 3) == 4) m.from = s;
        if ((tag >> 3) == 6) m.data = s;
        break;
      case 5:
        if (!in.fixed(4, v)) return std::nullopt;
        break;
      default:
        return std::nullopt;
    }
  }
  return m;
}

}  // namespace webim::hub::rocks
