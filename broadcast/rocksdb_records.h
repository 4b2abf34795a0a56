// The RocksDB store's keys and records: the store's own on-disk encoding, kept apart from the wire
// messages (proto/webim.proto) so the wire can change without a store migration. Pure: no I/O.
//
// One column family; a one-byte prefix separates the record kinds. Channel names never contain
// '\0', so '\0' ends a name in a key. Big-endian seq makes byte order = seq order (a history page
// is one iterator range).
//   'm' channel '\0' seq(8)  message     v1: 0x01 epoch(8) seq(8) ts_ms(8) from_len(4) from data
//                                        v2: 0x02 epoch(8) seq(8) ts_ms(8) from_len(4) flags(1) ref(8)
//                                            from data; flags 1 edit entry, 2 delete entry, 4 deleted
//                                            (data removed), 8 dm notice (in place of data: the dm
//                                            channel); ref: the seq edited, deleted or announced.
//                                            Written only for those (format 2); plain messages stay v1.
//   'c' channel              meta        v1: 0x01 epoch(8) last_seq(8)
//   'd' from '\0' cid        dedup       v1: 0x01 epoch(8) seq(8) ts_ms(8) channel
//   'r' user                 revocation  v1: 0x01 not_before_ms(8)
//   'k' channel '\0' user     read cursor v1: 0x01 seq(8)   (read_cursors.h; a prefix scan reads a channel's)
//   'u' from '\0' channel '\0' seq(8)      the per-sender index (format 2): empty value, one per
//                                        message not deleted; erase_user walks it (erase_job.h)
//   'e' channel '\0' seq(8) edit(8)    the edits of a message (format 2): empty value, one per edit
//                                        entry; a delete of `seq` redacts them too
//   'v' user '\0' channel         conversation  v1: 0x01 ts_ms(8) seq(8) (conversation_records.h)
//   'V' user '\0' ~ts_ms(8) channel  its order  v1: 0x01 seq(8): a user's conversations, most recent first
//   "s:epoch-seed"           the epoch seed (32 random bytes, HistoryStore::epochSeed)
//   "s:format-version"       the store format version, 4 bytes big-endian (rocksdb_migrations.h)
//   "s:value/<name>"         the hub's named values (HistoryStore::storeValue: the run marker)
// Integers are big-endian; signed ones (ts_ms, not_before_ms) are stored as their two's complement.
// The first byte of every record is its layout version, so a layout can change record by record.
//
// Format 0 (releases before the version key) stored each message as the serialized wire Delivery
// (a protobuf, which never starts with byte 0x01). decodeLegacyDelivery reads that frozen layout
// without the generated code; migration step 1 rewrites such records into v1.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "broadcast/history_store.h"

namespace webim::hub::rocks {

constexpr char kMessagePrefix = 'm';
constexpr char kMetaPrefix = 'c';
constexpr char kDedupPrefix = 'd';
constexpr char kRevocationPrefix = 'r';
constexpr char kCursorPrefix = 'k';
constexpr char kSenderPrefix = 'u';
constexpr char kEditPrefix = 'e';
constexpr std::string_view kEpochSeedKey = "s:epoch-seed";
constexpr std::string_view kFormatVersionKey = "s:format-version";
constexpr std::string_view kValuePrefix = "s:value/";
constexpr char kRecordVersion = 1;
constexpr char kMessageRecordV2 = 2;  // message records with edit/delete flags (format 2)

// Keys.
std::string channelPrefix(std::string_view channel);  // every message key of `channel` starts so
std::string channelEnd(std::string_view channel);     // just past every message key of `channel`
std::string messageKey(std::string_view channel, uint64_t seq);
uint64_t messageKeySeq(std::string_view key);  // the seq of a message key
std::string metaKey(std::string_view channel);
std::string dedupKey(std::string_view from, std::string_view cid);
std::string revocationKey(std::string_view user);
std::string cursorKey(std::string_view channel, std::string_view user);
std::string senderPrefix(std::string_view from);  // every index key of `from` starts so
std::string senderKey(std::string_view from, std::string_view channel, uint64_t seq);
std::string editPrefix(std::string_view channel, uint64_t seq);  // the edit keys of message `seq`
std::string editKey(std::string_view channel, uint64_t seq, uint64_t edit);
// The channel and seq of an index key (false: malformed).
bool parseSenderKey(std::string_view key, size_t fromSize, std::string& channel, uint64_t& seq);

// Records. decode* throw HistoryStoreError("corrupt ... record") on a malformed or unknown layout.
std::string encodeMessage(const StoredMessage& m);  // m.channel is in the key, not the record
StoredMessage decodeMessage(std::string_view channel, std::string_view record);
int64_t decodeMessageTs(std::string_view record);  // ts_ms only (retention scans)
std::string encodeMeta(const ChannelMeta& meta);
ChannelMeta decodeMeta(std::string_view record);
std::string encodeDedup(const DedupRecord& r);
DedupRecord decodeDedup(std::string_view record);
std::string encodeRevocation(int64_t notBeforeMs);
int64_t decodeRevocation(std::string_view record);
std::string encodeCursor(uint64_t seq);
uint64_t decodeCursor(std::string_view record);
std::string encodeFormatVersion(uint32_t version);
uint32_t decodeFormatVersion(std::string_view record);

// Format 0 message records: true when `record` is not a v1 or v2 message (a serialized Delivery).
bool isLegacyMessage(std::string_view record);
// Delivery fields as the releases of format 0 wrote them: channel=1 (bytes), epoch=2 (fixed64),
// seq=3 (varint), from=4 (bytes), ts_ms=5 (varint, int64), data=6 (bytes); other fields skipped.
// nullopt when the bytes are not a well-formed protobuf message.
std::optional<StoredMessage> decodeLegacyDelivery(std::string_view record);

}  // namespace webim::hub::rocks
