#include "frontend/inbox_attacher.h"

#include "common/backoff.h"

#include <algorithm>

namespace webim {

namespace {
constexpr size_t kPerUserBytes = 4;  // protobuf tag and length beside each id
}  // namespace

InboxAttacher::InboxAttacher(size_t shards, Options options, Random random)
    : options_(options), random_(std::move(random)), shards_(shards) {}

void InboxAttacher::changed(size_t shard, std::string user) {
  Shard& s = shards_[shard];
  s.retry.erase(user);  // decided again from what is held at the next take()
  if (s.changed.insert(std::move(user)).second) ++changedCount_;
}

void InboxAttacher::failed(size_t shard, std::vector<std::string> users, uint64_t nowMs) {
  Shard& s = shards_[shard];
  for (std::string& user : users) s.retry.insert(std::move(user));
  // Jittered, so frontends that failed together do not retry together.
  const uint64_t wait = jitteredBackoff(s.backoffMs, options_.retryMinMs, options_.retryMaxMs, random_());
  s.retryAtMs = std::max(s.retryAtMs > nowMs ? s.retryAtMs : 0, nowMs + wait);
}

void InboxAttacher::succeeded(size_t shard) { shards_[shard].backoffMs = 0; }

bool InboxAttacher::due(uint64_t nowMs) const {
  if (changedCount_ > 0) return true;
  return std::any_of(shards_.begin(), shards_.end(),
                     [nowMs](const Shard& s) { return !s.retry.empty() && nowMs >= s.retryAtMs; });
}

uint64_t InboxAttacher::nextRetryMs() const {
  uint64_t next = UINT64_MAX;
  for (const Shard& s : shards_) {
    if (!s.retry.empty()) next = std::min(next, s.retryAtMs);
  }
  return next;
}

std::vector<InboxAttacher::Chunk> InboxAttacher::take(uint64_t nowMs, const Held& held) {
  std::vector<Chunk> out;
  for (size_t shard = 0; shard < shards_.size(); ++shard) {
    Shard& s = shards_[shard];
    std::vector<std::string> attach;
    std::vector<std::string> detach;
    for (const std::string& user : s.changed) (held(shard, user) ? attach : detach).push_back(user);
    changedCount_ -= s.changed.size();
    s.changed.clear();
    if (!s.retry.empty() && nowMs >= s.retryAtMs) {
      for (const std::string& user : s.retry) {
        if (held(shard, user)) attach.push_back(user);  // no longer held: nothing to retry
      }
      s.retry.clear();
    }
    for (auto [users, isAttach] : {std::pair{&attach, true}, std::pair{&detach, false}}) {
      size_t bytes = options_.maxChunkBytes;  // forces a new chunk for the first user
      for (std::string& user : *users) {
        const size_t cost = user.size() + kPerUserBytes;
        if (bytes + cost > options_.maxChunkBytes) {
          out.push_back(Chunk{shard, isAttach, {}});
          bytes = 0;
        }
        bytes += cost;
        out.back().users.push_back(std::move(user));
      }
    }
  }
  return out;
}

}  // namespace webim
