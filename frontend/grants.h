// A token's grant patterns, interned per frontend: connections of users with the same grants
// share one copy (most users of an app have the same few grant sets).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace webim {

struct Grants {
  std::vector<std::string> subscribe;
  std::vector<std::string> publish;
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

}  // namespace webim
