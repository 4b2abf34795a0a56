#include "broadcast/inbox_router.h"

namespace webim::hub {

bool InboxRouter::attach(const std::string& frontend, const std::string& user) {
  std::optional<uint16_t> index = intern(frontend);
  if (!index) return false;
  Holders& holders = holders_.findOrInsert(user);
  if (holds(user, holders, *index)) return true;  // already attached
  if (holders.count < kInline) {
    holders.first[holders.count] = *index;
  } else {
    overflow_[user].push_back(*index);
  }
  ++holders.count;
  ++frontendUsers_[*index];
  return true;
}

void InboxRouter::detach(const std::string& frontend, const std::string& user) {
  auto fe = frontendIndex_.find(frontend);
  if (fe == frontendIndex_.end()) return;
  const uint16_t index = fe->second;
  Holders* holders = holders_.find(user);
  if (holders == nullptr || !removeHolder(user, *holders, index)) return;
  if (holders->count == 0) {
    holders_.erase(user);
    offline_.push_back(user);
  }
  dropUser(index);
}

void InboxRouter::forgetFrontend(const std::string& frontend) {
  auto fe = frontendIndex_.find(frontend);
  if (fe == frontendIndex_.end()) return;
  const uint16_t index = fe->second;
  frontendIndex_.erase(fe);  // its next process interns a new index
  retired_[index] = 1;
  if (retiring_++ == 0) cursor_ = 0;  // else the walk under way goes round again for it
}

// One slice of the walk: every retired index leaves the users visited; an index leaves with its
// last user. A walk that ends with users left (entries moved between slices) starts over.
void InboxRouter::forgetStep(size_t slots) {
  if (retiring_ == 0) return;
  cursor_ = holders_.visitSlice(cursor_, slots, [&](std::string_view id, Holders& holders) {
    // Most users are held by live frontends alone: no need to look further (or copy the id).
    const uint16_t* first = holders.first;
    const uint16_t* end = first + std::min(holders.count, kInline);
    if (holders.count <= kInline && std::none_of(first, end, [&](uint16_t i) { return retired(i); })) {
      return UserTable::Visit::Keep;
    }
    scratch_.assign(id);
    for (uint16_t k = 0; k < holders.count;) {
      const uint16_t index = k < kInline ? holders.first[k] : overflow_.at(scratch_)[k - kInline];
      if (!retired(index)) {
        ++k;
        continue;
      }
      removeHolder(scratch_, holders, index);  // the last holder takes its place: look at k again
      dropUser(index);
    }
    if (holders.count != 0) return UserTable::Visit::Keep;
    offline_.push_back(scratch_);
    return UserTable::Visit::Erase;
  });
  if (cursor_ == UserTable::npos) cursor_ = 0;
}

std::optional<uint16_t> InboxRouter::intern(const std::string& frontend) {
  if (auto it = frontendIndex_.find(frontend); it != frontendIndex_.end()) return it->second;
  uint16_t index;
  if (!freeIndices_.empty()) {
    index = freeIndices_.back();
    freeIndices_.pop_back();
    frontendNames_[index] = frontend;
  } else if (frontendNames_.size() < kMaxFrontends) {
    index = static_cast<uint16_t>(frontendNames_.size());
    frontendNames_.push_back(frontend);
    frontendUsers_.push_back(0);
    retired_.push_back(0);
  } else {
    return std::nullopt;
  }
  frontendIndex_.emplace(frontend, index);
  return index;
}

void InboxRouter::dropUser(uint16_t index) {
  if (--frontendUsers_[index] > 0) return;
  if (retired(index)) {
    retired_[index] = 0;
    --retiring_;
  } else {
    frontendIndex_.erase(frontendNames_[index]);
  }
  freeIndex(index);
}

void InboxRouter::freeIndex(uint16_t index) {
  frontendNames_[index].clear();
  freeIndices_.push_back(index);
}

bool InboxRouter::holds(const std::string& user, const Holders& holders, uint16_t index) const {
  const uint16_t* end = holders.first + std::min(holders.count, kInline);
  if (std::find(holders.first, end, index) != end) return true;
  if (holders.count <= kInline) return false;
  const std::vector<uint16_t>& rest = overflow_.at(user);
  return std::find(rest.begin(), rest.end(), index) != rest.end();
}

// The last holder moves into the removed one's place (order does not matter).
bool InboxRouter::removeHolder(const std::string& user, Holders& holders, uint16_t index) {
  uint16_t* end = holders.first + std::min(holders.count, kInline);
  uint16_t* at = std::find(holders.first, end, index);
  if (holders.count <= kInline) {
    if (at == end) return false;
    *at = holders.first[--holders.count];
    return true;
  }
  auto more = overflow_.find(user);  // there whenever count > kInline
  std::vector<uint16_t>& rest = more->second;
  if (at == end) {
    auto it = std::find(rest.begin(), rest.end(), index);
    if (it == rest.end()) return false;
    *it = rest.back();
  } else {
    *at = rest.back();
  }
  rest.pop_back();
  if (rest.empty()) overflow_.erase(more);
  --holders.count;
  return true;
}

}  // namespace webim::hub
