#include "common/client_request.h"

#include <array>
#include <span>

#include "common/conversations_request.h"
#include "common/epoch.h"
#include "common/json_reader.h"

namespace webim {

// The client request fields on top of JsonObjectReader: one read, then each op's fields checked.
struct RequestDecoder::Impl {
  JsonObjectReader reader;
};

namespace {

// The request fields the decoder knows; each may appear at most once.
enum Field { kOp, kId, kToken, kCh, kCid, kData, kSince, kBefore, kAfter, kLimit, kSubs, kSeq, kChs, kUsers, kFieldCount };
constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "op", "id", "token", "ch", "cid", "data", "since", "before", "after", "limit", "subs", "seq", "chs", "users"};
constexpr std::array<std::string_view, 5> kExpanded = {"since", "subs", "chs", "users", "before"};

int fieldIndex(std::string_view key) {
  for (size_t i = 0; i < kFieldCount; ++i) {
    if (kFieldNames[i] == key) return static_cast<int>(i);
  }
  return -1;
}

struct Fields {
  std::array<const JsonValue*, kFieldCount> value{};  // nullptr = absent
  const JsonValue* sinceEpoch = nullptr;
  const JsonValue* sinceSeq = nullptr;
  int duplicate = -1;  // first known field seen twice
  bool sinceDuplicate = false;
  size_t subsIndex = kJsonTopLevel;  // index of "subs" in the reader's members()
  size_t chsIndex = kJsonTopLevel;   // index of "chs"
  size_t usersIndex = kJsonTopLevel;  // index of "users"
  size_t beforeIndex = kJsonTopLevel;  // index of "before" (an object in `conversations`)

  const JsonValue* operator[](Field f) const { return value[f]; }
  // Optional fields given as null are treated as absent.
  bool present(Field f) const { return value[f] != nullptr && value[f]->type != JsonType::Null; }
};

// Sorts the reader's members into the known fields (the members of the first "since" included).
void collectFields(std::span<const JsonMember> members, Fields& f) {
  size_t sinceIndex = kJsonTopLevel;
  for (size_t i = 0; i < members.size(); ++i) {
    const JsonMember& m = members[i];
    if (m.parent != kJsonTopLevel) {
      if (m.parent != sinceIndex) continue;  // a later, duplicate "since"
      const JsonValue** slot = m.key == "epoch" ? &f.sinceEpoch : m.key == "seq" ? &f.sinceSeq : nullptr;
      if (slot == nullptr) continue;  // other members of "since" are ignored
      if (*slot != nullptr) {
        f.sinceDuplicate = true;
      } else {
        *slot = &m.value;
      }
      continue;
    }
    const int idx = fieldIndex(m.key);
    if (idx < 0) continue;
    if (f.value[idx] != nullptr) {
      if (f.duplicate < 0) f.duplicate = idx;
      continue;
    }
    f.value[idx] = &m.value;
    if (idx == kSince) sinceIndex = i;
    if (idx == kSubs) f.subsIndex = i;
    if (idx == kChs) f.chsIndex = i;
    if (idx == kUsers) f.usersIndex = i;
    if (idx == kBefore) f.beforeIndex = i;
  }
}

// Built by appending: g++ 12 -O3 reports a false -Wrestrict on `"literal" + std::string(...)`.
DecodeError message(std::string_view a, std::string_view b, std::string_view c = {}) {
  DecodeError e;
  e.message.reserve(a.size() + b.size() + c.size());
  e.message.append(a).append(b).append(c);
  return e;
}

DecodeError needString(const JsonValue* v, std::string_view name, std::string_view& out) {
  if (v == nullptr) return message("missing \"", name, "\"");
  if (v->type != JsonType::String) return message("\"", name, "\" must be a string");
  out = v->str;
  return {};
}

DecodeError needString(const Fields& f, Field which, std::string_view& out) {
  return needString(f[which], kFieldNames[which], out);
}

// A `since` object's members, checked: {"epoch": 16 lowercase hex digits, "seq": unsigned}.
DecodeError decodeSinceValue(const JsonValue& since, bool duplicate, const JsonValue* epoch, const JsonValue* seq,
                             SubEntry& out) {
  if (since.type != JsonType::Object) return {"\"since\" must be an object"};
  if (duplicate) return {"duplicate field in \"since\""};
  if (epoch == nullptr || seq == nullptr) return {"\"since\" needs \"epoch\" and \"seq\""};
  if (epoch->type != JsonType::String || !parseEpoch(epoch->str)) {
    return {"\"since.epoch\" must be 16 lowercase hex digits"};
  }
  if (!seq->getUnsigned(out.sinceSeq)) return {"\"since.seq\" must be an unsigned integer"};
  out.sinceEpoch = epoch->str;
  out.hasSince = true;
  return {};
}

DecodeError decodeSince(const Fields& f, ClientRequest& out) {
  SubEntry entry;
  if (DecodeError e = decodeSinceValue(*f[kSince], f.sinceDuplicate, f.sinceEpoch, f.sinceSeq, entry); !e.ok()) return e;
  out.hasSince = true;
  out.sinceEpoch = entry.sinceEpoch;
  out.sinceSeq = entry.sinceSeq;
  return {};
}

// `subs`: [{ch, since?}, ...], read from the expanded members after index `at` (members() order:
// the array, each element, the element's members, a since's members).
DecodeError decodeSubs(std::span<const JsonMember> members, size_t at, ClientRequest& out) {
  if (members[at].value.type != JsonType::Array) return {"\"subs\" must be an array"};
  std::vector<size_t> elements;
  for (size_t i = at + 1; i < members.size(); ++i) {
    if (members[i].parent == at) elements.push_back(i);
  }
  if (elements.empty()) return {"\"subs\" must list at least one channel"};
  if (elements.size() > kMaxSubBatch) {
    DecodeError e = message("\"subs\" lists more than ", std::to_string(kMaxSubBatch), " channels");
    e.tooLarge = true;
    return e;
  }
  out.subs.reserve(elements.size());
  for (size_t element : elements) {
    if (members[element].value.type != JsonType::Object) return {"each entry of \"subs\" must be an object"};
    const JsonValue* ch = nullptr;
    const JsonValue* since = nullptr;
    size_t sinceAt = kJsonTopLevel;
    for (size_t i = element + 1; i < members.size(); ++i) {
      if (members[i].parent != element) continue;
      const JsonValue** slot = members[i].key == "ch" ? &ch : members[i].key == "since" ? &since : nullptr;
      if (slot == nullptr) continue;  // unknown fields are ignored
      if (*slot != nullptr) return message("duplicate field \"", members[i].key, "\" in an entry of \"subs\"");
      *slot = &members[i].value;
      if (slot == &since) sinceAt = i;
    }
    SubEntry entry;
    if (DecodeError e = needString(ch, "ch", entry.ch); !e.ok()) return e;
    if (since != nullptr && since->type != JsonType::Null) {
      const JsonValue* epoch = nullptr;
      const JsonValue* seq = nullptr;
      bool duplicate = false;
      for (size_t i = sinceAt + 1; i < members.size(); ++i) {
        if (members[i].parent != sinceAt) continue;
        const JsonValue** slot = members[i].key == "epoch" ? &epoch : members[i].key == "seq" ? &seq : nullptr;
        if (slot == nullptr) continue;
        if (*slot != nullptr) duplicate = true;
        *slot = &members[i].value;
      }
      if (DecodeError e = decodeSinceValue(*since, duplicate, epoch, seq, entry); !e.ok()) return e;
    }
    out.subs.push_back(entry);
  }
  return {};
}

// `chs`: an array of 1..kMaxUnreadChannels channel names (strings).
DecodeError decodeChannelList(std::span<const JsonMember> members, size_t at, ClientRequest& out) {
  if (members[at].value.type != JsonType::Array) return {"\"chs\" must be an array"};
  for (size_t i = at + 1; i < members.size(); ++i) {
    if (members[i].parent != at) continue;
    if (members[i].value.type != JsonType::String) return {"each entry of \"chs\" must be a string"};
    if (out.chs.size() == kMaxUnreadChannels) {
      DecodeError e = message("\"chs\" lists more than ", std::to_string(kMaxUnreadChannels), " channels");
      e.tooLarge = true;
      return e;
    }
    out.chs.push_back(members[i].value.str);
  }
  if (out.chs.empty()) return {"\"chs\" must list at least one channel"};
  return {};
}

// `users` of an `online` query: [id, ...], 1..kMaxOnlineUsers strings (ids are checked by the caller).
DecodeError decodeUsers(std::span<const JsonMember> members, size_t at, ClientRequest& out) {
  if (at == kJsonTopLevel) return {"missing \"users\""};
  if (members[at].value.type != JsonType::Array) return {"\"users\" must be an array"};
  for (size_t i = at + 1; i < members.size(); ++i) {
    if (members[i].parent != at) continue;
    if (members[i].value.type != JsonType::String) return {"each entry of \"users\" must be a string"};
    if (out.users.size() == kMaxOnlineUsers) {
      DecodeError e = message("\"users\" lists more than ", std::to_string(kMaxOnlineUsers), " ids");
      e.tooLarge = true;
      return e;
    }
    out.users.push_back(members[i].value.str);
  }
  if (out.users.empty()) return {"\"users\" must list at least one user id"};
  return {};
}

DecodeError decodeHistRange(const Fields& f, ClientRequest& out) {
  uint64_t v = 0;
  if (f.present(kBefore)) {
    if (!f[kBefore]->getUnsigned(v)) return {"\"before\" must be an unsigned integer"};
    out.before = v;
  }
  if (f.present(kAfter)) {
    if (!f[kAfter]->getUnsigned(v)) return {"\"after\" must be an unsigned integer"};
    out.after = v;
  }
  if (out.before && out.after) return {"\"before\" and \"after\" are exclusive"};
  if (f.present(kLimit)) {
    if (!f[kLimit]->getUnsigned(v) || v < 1 || v > kMaxHistLimit) {
      return {"\"limit\" must be an integer from 1 to 200"};
    }
    out.limit = static_cast<uint32_t>(v);
  }
  return {};
}

// presence: ch, and an optional page (after: a user id, limit 1..1000).
DecodeError decodePresence(const Fields& f, ClientRequest& out) {
  if (DecodeError e = needString(f, kCh, out.ch); !e.ok()) return e;
  out.limit = kDefaultPresenceLimit;
  if (f.present(kAfter)) {
    if (f[kAfter]->type != JsonType::String) return {"\"after\" must be a user id (string)"};
    out.afterUser = f[kAfter]->str;
  }
  uint64_t v = 0;
  if (f.present(kLimit)) {
    if (!f[kLimit]->getUnsigned(v) || v < 1 || v > kMaxPresenceLimit) return {"\"limit\" must be an integer from 1 to 1000"};
    out.limit = static_cast<uint32_t>(v);
  }
  return {};
}

ClientOp opFromName(std::string_view name) {
  if (name == "auth") return ClientOp::Auth;
  if (name == "sub") return ClientOp::Sub;
  if (name == "unsub") return ClientOp::Unsub;
  if (name == "pub") return ClientOp::Pub;
  if (name == "hist") return ClientOp::Hist;
  if (name == "signal") return ClientOp::Signal;
  if (name == "read") return ClientOp::Read;
  if (name == "unread") return ClientOp::Unread;
  if (name == "online") return ClientOp::Online;
  if (name == "presence") return ClientOp::Presence;
  if (name == "presence_stats") return ClientOp::PresenceStats;
  if (name == "edit") return ClientOp::Edit;
  if (name == "delete") return ClientOp::Delete;
  if (name == "conversations") return ClientOp::Conversations;
  return ClientOp::Unknown;
}

// edit and delete: ch, seq, cid; data for an edit, none for a delete.
DecodeError decodeEdit(const Fields& f, ClientRequest& out) {
  if (DecodeError e = needString(f, kCh, out.ch); !e.ok()) return e;
  if (f[kSeq] == nullptr) return {"missing \"seq\""};
  if (!f[kSeq]->getUnsigned(out.seq) || out.seq == 0) return {"\"seq\" must be an unsigned integer >= 1"};
  if (out.op == ClientOp::Edit) {
    if (f[kData] == nullptr) return {"missing \"data\""};
    out.data = f[kData]->raw;
  } else if (f.present(kData)) {
    return {"a delete carries no \"data\""};
  }
  if (DecodeError e = needString(f, kCid, out.cid); !e.ok()) return e;
  if (out.cid.empty() || out.cid.size() > kMaxCidBytes) return {"\"cid\" must be 1 to 64 bytes"};
  return {};
}

}  // namespace

RequestDecoder::RequestDecoder() : impl_(std::make_unique<Impl>()) {}
RequestDecoder::~RequestDecoder() = default;
RequestDecoder::RequestDecoder(RequestDecoder&&) noexcept = default;
RequestDecoder& RequestDecoder::operator=(RequestDecoder&&) noexcept = default;

DecodeError RequestDecoder::decode(std::string_view frame, ClientRequest& out) {
  out = ClientRequest{};
  JsonObjectReader& reader = impl_->reader;
  // Nothing is reported from a frame that is not valid JSON, not even its id.
  const JsonReadStatus status = reader.read(frame, kExpanded);
  if (status.code == JsonReadStatus::NotAnObject) return {"request must be a JSON object"};
  if (!status.ok()) return message("invalid JSON: ", status.detail);
  Fields f;
  collectFields(reader.members(), f);

  // id first, so even a failed request can be answered with its id. A duplicated id is ambiguous.
  if (f.duplicate != kId && f[kId] != nullptr && f[kId]->type == JsonType::Int64) {
    out.id = f[kId]->i;
    out.hasId = true;
  }
  if (f.duplicate >= 0) return message("duplicate field \"", kFieldNames[f.duplicate], "\"");
  if (DecodeError e = needString(f, kOp, out.opName); !e.ok()) return e;
  if (f[kId] == nullptr) return {"missing \"id\""};
  if (!out.hasId) return {"\"id\" must be an integer"};

  out.op = opFromName(out.opName);
  switch (out.op) {
    case ClientOp::Auth:
      return needString(f, kToken, out.token);
    case ClientOp::Sub:
      if (f.present(kSubs)) {
        if (f[kCh] != nullptr || f[kSince] != nullptr) return {"give \"ch\" (and \"since\") or \"subs\", not both"};
        return decodeSubs(reader.members(), f.subsIndex, out);
      }
      if (DecodeError e = needString(f, kCh, out.ch); !e.ok()) return e;
      if (f.present(kSince)) return decodeSince(f, out);
      return {};
    case ClientOp::Unsub:
      return needString(f, kCh, out.ch);
    case ClientOp::Pub:
      if (DecodeError e = needString(f, kCh, out.ch); !e.ok()) return e;
      if (f[kData] == nullptr) return {"missing \"data\""};
      if (DecodeError e = needString(f, kCid, out.cid); !e.ok()) return e;
      if (out.cid.empty() || out.cid.size() > kMaxCidBytes) return {"\"cid\" must be 1 to 64 bytes"};
      out.data = f[kData]->raw;
      return {};
    case ClientOp::Hist:
      if (DecodeError e = needString(f, kCh, out.ch); !e.ok()) return e;
      return decodeHistRange(f, out);
    case ClientOp::Signal:
      if (DecodeError e = needString(f, kCh, out.ch); !e.ok()) return e;
      if (f[kData] == nullptr) return {"missing \"data\""};
      out.data = f[kData]->raw;
      return {};
    case ClientOp::Read:
      if (DecodeError e = needString(f, kCh, out.ch); !e.ok()) return e;
      if (f[kSeq] == nullptr || !f[kSeq]->getUnsigned(out.seq)) return {"\"seq\" must be an unsigned integer"};
      return {};
    case ClientOp::Unread:
      if (f[kChs] == nullptr) return {"missing \"chs\""};
      return decodeChannelList(reader.members(), f.chsIndex, out);
    case ClientOp::Online:
      return decodeUsers(reader.members(), f.usersIndex, out);
    case ClientOp::Presence:
      return decodePresence(f, out);
    case ClientOp::PresenceStats:
      return needString(f, kCh, out.ch);
    case ClientOp::Edit:
    case ClientOp::Delete:
      return decodeEdit(f, out);
    case ClientOp::Conversations:
      return decodeConversations(reader.members(), f.beforeIndex, f[kLimit], out);
    case ClientOp::Unknown:
      return {};
  }
  return {};
}

}  // namespace webim
