// Kick revocations (docs/architecture.md, "Kick"): user -> the time (ms) before which the user's
// tokens were issued and no longer admit it. Learned from kicks, and from every hub at start and
// after a hub restart (the hubs store them), so a restarted frontend still refuses old tokens. Pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "common/token.h"

namespace webim {

class Revocations {
 public:
  // A kick is remembered as long as a token may live (max_token_lifetime): older tokens expired.
  explicit Revocations(int64_t keepMs) : keepMs_(keepMs) {}

  // `user` was kicked: tokens issued at or before `notBeforeMs` are refused (ignored when <= 0).
  // Now and then (when the table doubled) forgets kicks older than the keep window before `nowMs`.
  void note(const std::string& user, int64_t notBeforeMs, int64_t nowMs);
  // Whether a kick revoked this token or sid: its user was kicked at or after its iat (a token
  // without iat: kicked at all, within the window).
  bool isRevoked(const TokenClaims& claims) const;
  // Where a hub's stored kicks are read from: the start of the keep window.
  int64_t windowStartMs(int64_t nowMs) const noexcept { return nowMs - keepMs_; }
  size_t size() const noexcept { return notBefore_.size(); }

 private:
  int64_t keepMs_;
  std::unordered_map<std::string, int64_t> notBefore_;
  size_t pruneAt_ = 1024;
};

}  // namespace webim
