#include "broadcast/conversation_records.h"

#include <unordered_map>

#include "common/big_endian.h"

namespace webim::hub::conv {

namespace {

constexpr char kVersion = 1;
constexpr size_t kEntrySize = 17;  // version ts seq
constexpr size_t kOrderSize = 9;   // version seq

[[noreturn]] void corrupt() { throw HistoryStoreError("corrupt conversation record"); }

std::string userKey(char prefix, std::string_view user) {
  std::string key(1, prefix);
  key.append(user);
  key.push_back('\0');
  return key;
}

}  // namespace

std::string entryKey(std::string_view user, std::string_view channel) {
  std::string key = userKey(kEntryPrefix, user);
  key.append(channel);
  return key;
}

std::string orderPrefix(std::string_view user) { return userKey(kOrderPrefix, user); }

std::string orderEnd(std::string_view user) {
  std::string key = userKey(kOrderPrefix, user);
  key.back() = '\1';
  return key;
}

std::string orderKey(std::string_view user, int64_t tsMs, std::string_view channel) {
  std::string key = orderPrefix(user);
  appendBigEndian<uint64_t>(key, ~static_cast<uint64_t>(tsMs));
  key.append(channel);
  return key;
}

std::string encodeEntry(int64_t tsMs, uint64_t seq) {
  std::string v(1, kVersion);
  appendBigEndian<uint64_t>(v, static_cast<uint64_t>(tsMs));
  appendBigEndian<uint64_t>(v, seq);
  return v;
}

std::string encodeOrder(uint64_t seq) {
  std::string v(1, kVersion);
  appendBigEndian<uint64_t>(v, seq);
  return v;
}

ConversationItem decodeEntry(std::string_view channel, std::string_view record) {
  if (record.size() != kEntrySize || record[0] != kVersion) corrupt();
  return ConversationItem{std::string(channel), static_cast<int64_t>(loadBigEndian<uint64_t>(record.data() + 1)),
                          loadBigEndian<uint64_t>(record.data() + 9)};
}

ConversationItem decodeOrder(std::string_view key, size_t userSize, std::string_view record) {
  const size_t head = 1 + userSize + 1;
  if (key.size() < head + 8 || record.size() != kOrderSize || record[0] != kVersion) corrupt();
  const uint64_t ts = ~loadBigEndian<uint64_t>(key.data() + head);
  return ConversationItem{std::string(key.substr(head + 8)), static_cast<int64_t>(ts),
                          loadBigEndian<uint64_t>(record.data() + 1)};
}

std::string outboxKey(const OutboxEntry& e) {
  std::string key = userKey(kOutboxPrefix, e.user);
  key.append(e.dm);
  key.push_back('\0');
  appendBigEndian<uint64_t>(key, e.seq);
  return key;
}

std::string encodeOutbox(const OutboxEntry& e) {
  std::string v(1, kVersion);
  appendBigEndian<uint64_t>(v, static_cast<uint64_t>(e.tsMs));
  v.append(e.from);
  return v;
}

OutboxEntry decodeOutbox(std::string_view key, std::string_view record) {
  if (key.size() < 1 + 1 + 1 + 8 || key[0] != kOutboxPrefix || record.size() < 9 || record[0] != kVersion) corrupt();
  const size_t userEnd = key.find('\0', 1);
  const size_t dmEnd = key.size() - 9;
  if (userEnd == std::string_view::npos || userEnd >= dmEnd || key[dmEnd] != '\0') corrupt();
  OutboxEntry e;
  e.user = std::string(key.substr(1, userEnd - 1));
  e.dm = std::string(key.substr(userEnd + 1, dmEnd - userEnd - 1));
  e.seq = loadBigEndian<uint64_t>(key.data() + dmEnd + 1);
  e.tsMs = static_cast<int64_t>(loadBigEndian<uint64_t>(record.data() + 1));
  e.from = std::string(record.substr(9));
  return e;
}

bool newer(const ConversationItem& next, const std::optional<ConversationItem>& stored) {
  if (!stored) return true;
  if (next.tsMs != stored->tsMs) return next.tsMs > stored->tsMs;
  return next.seq > stored->seq;
}

std::vector<ConversationTouch> mergeTouches(const std::vector<ConversationTouch>& touches) {
  std::vector<ConversationTouch> out;
  std::unordered_map<std::string, size_t> at;
  for (const ConversationTouch& t : touches) {
    std::string key = t.user;
    key.push_back('\0');
    key.append(t.channel);
    auto [it, added] = at.emplace(std::move(key), out.size());
    if (added) {
      out.push_back(t);
      continue;
    }
    ConversationTouch& kept = out[it->second];
    if (newer(ConversationItem{t.channel, t.tsMs, t.seq}, ConversationItem{kept.channel, kept.tsMs, kept.seq})) {
      kept.tsMs = t.tsMs;
      kept.seq = t.seq;
    }
  }
  return out;
}

}  // namespace webim::hub::conv
