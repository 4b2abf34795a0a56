// The conversation index (docs/architecture.md "Conversations"), RocksDB keys and records, and the
// pure rules both stores follow: a batch's touches merged per (user, channel), never moving an
// entry back. No I/O.
//   'v' user '\0' channel               v1: 0x01 ts_ms(8) seq(8)   the entry
//   'V' user '\0' ~ts_ms(8) channel     v1: 0x01 seq(8)            its place in the user's order
// ~ts_ms (the bitwise complement, big-endian) makes forward order most recent first, ties by
// channel name; a page is one iterator range. The two keys are written (and the old 'V' deleted)
// together in the batch's WriteBatch. User ids and channel names never contain '\0'.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broadcast/history_store.h"

namespace webim::hub::conv {

constexpr char kEntryPrefix = 'v';
constexpr char kOrderPrefix = 'V';
// The outbox (notice_outbox.h): 'o' user '\0' dm '\0' seq(8) -> v1: 0x01 ts_ms(8) from
constexpr char kOutboxPrefix = 'o';

std::string entryKey(std::string_view user, std::string_view channel);
std::string orderPrefix(std::string_view user);  // every order key of `user` starts so
std::string orderEnd(std::string_view user);     // just past every order key of `user`
std::string orderKey(std::string_view user, int64_t tsMs, std::string_view channel);
std::string encodeEntry(int64_t tsMs, uint64_t seq);
std::string encodeOrder(uint64_t seq);
// decode* throw HistoryStoreError("corrupt conversation record") on a malformed record.
ConversationItem decodeEntry(std::string_view channel, std::string_view record);
// The item of an order key and record of `user`'s prefix.
ConversationItem decodeOrder(std::string_view key, size_t userSize, std::string_view record);

std::string outboxKey(const OutboxEntry& e);
std::string encodeOutbox(const OutboxEntry& e);
OutboxEntry decodeOutbox(std::string_view key, std::string_view record);  // throws on a malformed one

// Whether `next` replaces `stored`: a later activity (ts, then seq) moves the entry; an older one
// (a touch that arrived late) does not.
bool newer(const ConversationItem& next, const std::optional<ConversationItem>& stored);

// A batch's touches, one per (user, channel), the newest of each, in first-seen order.
std::vector<ConversationTouch> mergeTouches(const std::vector<ConversationTouch>& touches);

}  // namespace webim::hub::conv
