#include "frontend/revocations.h"

#include <algorithm>

namespace webim {

void Revocations::note(const std::string& user, int64_t notBeforeMs, int64_t nowMs) {
  if (notBeforeMs <= 0) return;
  int64_t& at = notBefore_[user];
  at = std::max(at, notBeforeMs);
  if (notBefore_.size() >= pruneAt_) {
    const int64_t oldest = windowStartMs(nowMs);
    std::erase_if(notBefore_, [oldest](const auto& entry) { return entry.second < oldest; });
    pruneAt_ = std::max<size_t>(1024, notBefore_.size() * 2);
  }
}

bool Revocations::isRevoked(const TokenClaims& claims) const {
  auto it = notBefore_.find(claims.sub);
  if (it == notBefore_.end()) return false;
  return claims.iat == 0 || claims.iat * 1000 <= it->second;
}

}  // namespace webim
