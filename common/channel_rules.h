// Channel names and who may subscribe or publish to them (docs/protocol.md section 1 "Channels").
// Pure functions of the channel name and the verified token claims.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "common/token.h"

namespace webim {

inline constexpr size_t kMaxChannelBytes = 128;

bool isValidChannelName(std::string_view ch) noexcept;  // [A-Za-z0-9_.:-]{1,128}

// Classified by prefix only ("user:", "dm:", "room:", "pub:"); says nothing about validity.
enum class ChannelKind { User, Dm, Room, Pub, Other };
ChannelKind channelKind(std::string_view ch) noexcept;

// Both return false for invalid channel names and for claims with an empty subject.
// user:<id>: only <id> subscribes (no grant needed, and no grant lets anyone else in);
//            publishing needs a match in claims.publish.
// dm:<a>:<b>: valid only with non-empty a < b (string order) and no further ':'; only a and b may
//            subscribe/publish, no grant needed (and no grant lets anyone else in).
// room:<id> and other names: subscribe needs a match in claims.subscribe, publish a match in
//            claims.publish.
// pub:<id>: subscribe needs a match in claims.subscribe; clients never publish.
bool canSubscribe(const TokenClaims& claims, std::string_view ch) noexcept;
bool canPublish(const TokenClaims& claims, std::string_view ch) noexcept;
// The other participant of a well-formed dm:<a>:<b> (the rule above) when `user` is a or b; else
// "" (not a dm:, malformed, or not theirs). The one parser of dm names: subscribe and publish
// rights, and the hub's peer cursors (peer_read).
std::string_view dmPeerOf(std::string_view ch, std::string_view user) noexcept;
// The same rules for a user and its grant patterns (a connection keeps only these, shared).
bool canSubscribe(std::string_view user, std::span<const std::string> subscribe, std::string_view ch) noexcept;
// False for a grant pattern the rules above never consult (a subscribe pattern that can only match
// user: or dm: channels; a publish pattern that can only match dm: or pub: channels): dropping it
// changes no answer, and tokens that all name their own inbox then share one grant set.
bool subscribeGrantIsUsed(std::string_view pattern) noexcept;
bool publishGrantIsUsed(std::string_view pattern) noexcept;
bool canPublish(std::string_view user, std::span<const std::string> publish, std::string_view ch) noexcept;

}  // namespace webim
