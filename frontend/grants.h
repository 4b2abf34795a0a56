// A token's grant patterns, interned per frontend: connections of users with the same grants
// share one copy (most users of an app have the same few grant sets).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace webim {

// The key a grant set is interned under: each list as its count, then each pattern as its length
// and its bytes ("2;6:room:*1:x" + "0;"). The encoding is prefix-free, so two sets get the same key
// only if they hold the same patterns in the same order, whatever bytes the patterns hold (tokens
// are checked too, but the key does not rely on it).
// The presence patterns (the token's "presence" claim) follow as a third list only when there are
// some, so the keys of sets without them are as before (and still prefix-free).
inline std::string grantSetKey(const std::vector<std::string>& subscribe, const std::vector<std::string>& publish,
                               const std::vector<std::string>& presence = {}) {
  std::string key;
  for (const std::vector<std::string>* patterns : {&subscribe, &publish, &presence}) {
    if (patterns == &presence && presence.empty()) break;
    key.append(std::to_string(patterns->size())).push_back(';');
    for (const std::string& p : *patterns) key.append(std::to_string(p.size())).append(1, ':').append(p);
  }
  return key;
}

struct Grants {
  std::vector<std::string> subscribe;
  std::vector<std::string> publish;
  std::vector<std::string> presence;  // user-id patterns the `online` query may ask about
  mutable uint32_t holders = 0;  // sessions using this set; the frontend frees it when none does
};

// A session's hold on an interned grant set: 8 bytes (a shared_ptr is 16, on every connection).
// Single-threaded, like the loop that owns the sets.
class GrantsRef {
 public:
  GrantsRef() = default;
  explicit GrantsRef(const Grants* grants) noexcept : grants_(grants) {
    if (grants_ != nullptr) ++grants_->holders;
  }
  GrantsRef(const GrantsRef& other) noexcept : GrantsRef(other.grants_) {}
  GrantsRef& operator=(GrantsRef other) noexcept {
    std::swap(grants_, other.grants_);
    return *this;
  }
  ~GrantsRef() {
    if (grants_ != nullptr) --grants_->holders;
  }
  const Grants* operator->() const noexcept { return grants_; }
  explicit operator bool() const noexcept { return grants_ != nullptr; }

 private:
  const Grants* grants_ = nullptr;
};

// The frontend's interned grant sets. Pure (no I/O).
class GrantSets {
 public:
  // The shared set for these patterns, after dropping the ones no rule consults (so tokens that
  // differ only in such patterns share one set). Sets nobody holds are freed now and then: when the
  // table has doubled since the last sweep.
  GrantsRef intern(std::vector<std::string> subscribe, std::vector<std::string> publish,
                   std::vector<std::string> presence = {});
  size_t size() const noexcept { return sets_.size(); }

 private:
  std::unordered_map<std::string, std::unique_ptr<Grants>> sets_;  // by grantSetKey
  size_t pruneAt_ = 64;
};

}  // namespace webim
