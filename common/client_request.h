// Client request decoding (docs/protocol.md section 1) on top of JsonObjectReader
// (common/json_reader.h). Pure: no I/O.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/epoch.h"  // sinceEpoch is an epoch's text form (parseEpoch); replies format them

namespace webim {

enum class ClientOp {
  Auth, Sub, Unsub, Pub, Hist, Signal, Edit, Delete, Read, Unread, Online, Presence, PresenceStats, Conversations, Unknown
};

inline constexpr size_t kMaxCidBytes = 64;
inline constexpr uint32_t kDefaultHistLimit = 50;
inline constexpr uint32_t kMaxHistLimit = 200;

inline constexpr size_t kMaxSubBatch = 256;  // entries of one batched `sub`
inline constexpr size_t kMaxUnreadChannels = 500;  // channels of one `unread`
inline constexpr size_t kMaxOnlineUsers = 500;  // user ids of one `online` query (docs/protocol.md "Presence")
inline constexpr uint32_t kDefaultPresenceLimit = 100;  // users of one `presence` page
inline constexpr uint32_t kMaxPresenceLimit = 1000;

// One channel of a `sub` request: its own (ch, since), or one entry of a batched `subs` list.
struct SubEntry {
  std::string_view ch;
  bool hasSince = false;
  std::string_view sinceEpoch;  // 16 lowercase hex digits (checked with parseEpoch)
  uint64_t sinceSeq = 0;
};

// A decoded client request. All string_views point into the decoder's buffers and stay valid until
// the next decode(). String fields (opName, token, ch, cid, sinceEpoch) are unescaped; `data` is raw.
struct ClientRequest {
  ClientOp op = ClientOp::Unknown;
  std::string_view opName;
  int64_t id = 0;
  bool hasId = false;
  std::string_view token, ch, cid;
  std::string_view data;  // raw JSON bytes of "data" exactly as sent (trimmed of surrounding whitespace), empty if absent
  bool hasSince = false;
  std::string_view sinceEpoch;  // 16 lowercase hex digits (checked with parseEpoch)
  uint64_t sinceSeq = 0;
  std::optional<uint64_t> before, after;
  uint32_t limit = kDefaultHistLimit;
  // A batched sub (`subs`, 1..kMaxSubBatch entries); empty for a sub of one channel (ch, since).
  std::vector<SubEntry> subs;
  uint64_t seq = 0;                   // read: the seq to mark read up to; edit, delete: the message's seq (>= 1)
  std::vector<std::string_view> chs;  // unread: 1..kMaxUnreadChannels channel names
  std::vector<std::string_view> users;  // `online`: 1..kMaxOnlineUsers user ids (unescaped)
  // presence: the page starts after this user id (empty: from the first); `limit` its size.
  std::string_view afterUser;
  // conversations (conversations_request.h): the page starts below (beforeTs, beforeCh).
  bool hasBeforeItem = false;
  int64_t beforeTs = 0;
  std::string_view beforeCh;
};

struct DecodeError {
  std::string message;  // empty message = success
  bool tooLarge = false;  // the request is well formed but over a count limit (too_large, not bad_request)
  bool ok() const noexcept { return message.empty(); }
};

class RequestDecoder {
 public:
  RequestDecoder();  // one per event loop; reuses one JsonObjectReader
  ~RequestDecoder();
  RequestDecoder(RequestDecoder&&) noexcept;
  RequestDecoder& operator=(RequestDecoder&&) noexcept;

  // Validates the frame fully as JSON (JsonObjectReader::read: UTF-8, every value, nesting <= 128,
  // nothing after the object) with one simdjson On-Demand pass, requires a top-level object with string "op" and
  // integer "id", and the fields each op needs:
  //   auth: token (string)
  //   sub: ch (string); optional since {"epoch": 16 lowercase hex digits, "seq": unsigned integer};
  //        or, instead of ch/since, subs: an array of 1..256 objects {ch, optional since} (more:
  //        DecodeError::tooLarge); a known field twice within an entry is an error
  //   unsub: ch (string)
  //   pub: ch (string), data (any JSON value), cid (string, 1..64 bytes)
  //   hist: ch (string); optional before or after (unsigned integer; not both); optional limit 1..200
  //   signal: ch (string), data (any JSON value)
  //   read: ch (string), seq (unsigned integer)
  //   unread: chs (array of 1..500 strings; more: DecodeError::tooLarge)
  //   online: users (an array of 1..500 strings; more: DecodeError::tooLarge)
  //   presence: ch (string); optional after (string: a user id), limit 1..1000 (default 100)
  //   presence_stats: ch (string)
  //   edit: ch (string), seq (unsigned integer >= 1), data (any JSON value), cid (string, 1..64 bytes)
  //   delete: ch (string), seq (unsigned integer >= 1), cid (string, 1..64 bytes); no data
  //   conversations: optional limit 1..100 (default 50), before {"ts": integer, "ch": string}
  // Optional fields given as null count as absent. A known field appearing twice is an error (so no
  // reader can disagree about which copy counts); unknown fields are ignored. Channel names are not
  // checked here (see channel_rules.h). Unknown ops decode with op == Unknown and only op/id read
  // (the caller answers bad_request). On error, out.id/out.hasId are still set when they could be
  // read (not for frames that are not valid JSON: nothing is reported from those).
  DecodeError decode(std::string_view frame, ClientRequest& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace webim
