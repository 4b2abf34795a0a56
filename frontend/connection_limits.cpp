#include "frontend/connection_limits.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <functional>

#include "frontend/rate_limit.h"

namespace webim {

namespace {
constexpr size_t kMinSlots = 16;
constexpr uint64_t kCountMask = 0xffff;
constexpr uint64_t kMaxCount = 0xffff;
}  // namespace

// ---- UserCounts -------------------------------------------------------------------------------

uint64_t UserCounts::keyOf(std::string_view user) noexcept {
  uint64_t key = std::hash<std::string_view>{}(user) >> 16;  // 48 bits
  return key == 0 ? 1 : key;                                 // 0 marks an empty slot
}

size_t UserCounts::find(uint64_t key) const noexcept {
  if (slots_.empty()) return SIZE_MAX;
  const size_t mask = slots_.size() - 1;
  for (size_t slot = key & mask; slots_[slot] != 0; slot = (slot + 1) & mask) {
    if ((slots_[slot] >> 16) == key) return slot;
  }
  return SIZE_MAX;
}

bool UserCounts::tryAdd(std::string_view user, uint32_t cap) {
  const uint64_t key = keyOf(user);
  if (size_t slot = find(key); slot != SIZE_MAX) {
    uint64_t count = slots_[slot] & kCountMask;
    if (count >= cap || count >= kMaxCount) return false;
    ++slots_[slot];
    return true;
  }
  if (cap == 0) return false;
  if ((size_ + 1) * 4 > slots_.size() * 3) rehash(std::max(kMinSlots, slots_.size() * 2));  // load <= 0.75
  const size_t mask = slots_.size() - 1;
  size_t slot = key & mask;
  while (slots_[slot] != 0) slot = (slot + 1) & mask;
  slots_[slot] = key << 16 | 1;
  ++size_;
  return true;
}

void UserCounts::remove(std::string_view user) {
  size_t slot = find(keyOf(user));
  if (slot == SIZE_MAX) return;
  if ((slots_[slot] & kCountMask) > 1) {
    --slots_[slot];
    return;
  }
  eraseSlot(slot);
  --size_;
  // Halve below a load of 0.2, so a burst of connections does not leave a peak-sized table.
  if (slots_.size() > kMinSlots && size_ * 5 < slots_.size()) rehash(slots_.size() / 2);
}

uint32_t UserCounts::count(std::string_view user) const {
  size_t slot = find(keyOf(user));
  return slot == SIZE_MAX ? 0 : static_cast<uint32_t>(slots_[slot] & kCountMask);
}

// Backward-shift deletion: no tombstones.
void UserCounts::eraseSlot(size_t slot) noexcept {
  const size_t mask = slots_.size() - 1;
  size_t hole = slot;
  for (size_t next = (hole + 1) & mask; slots_[next] != 0; next = (next + 1) & mask) {
    const size_t home = (slots_[next] >> 16) & mask;
    // Move `next` into the hole unless its home lies cyclically in (hole, next].
    const bool between = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);
    if (!between) {
      slots_[hole] = slots_[next];
      hole = next;
    }
  }
  slots_[hole] = 0;
}

void UserCounts::rehash(size_t capacity) {
  std::vector<uint64_t> old;
  old.swap(slots_);
  slots_.assign(capacity, 0);
  const size_t mask = capacity - 1;
  for (uint64_t entry : old) {
    if (entry == 0) continue;
    size_t slot = (entry >> 16) & mask;
    while (slots_[slot] != 0) slot = (slot + 1) & mask;
    slots_[slot] = entry;
  }
}

// ---- addresses --------------------------------------------------------------------------------

std::optional<AddressKey> parseAddress(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (text.empty() || text.size() > 45) return std::nullopt;
  std::string z(text);
  unsigned char bytes[16] = {};
  if (inet_pton(AF_INET, z.c_str(), bytes + 12) == 1) {
    bytes[10] = bytes[11] = 0xff;  // ::ffff:a.b.c.d
    return AddressKey(reinterpret_cast<char*>(bytes), 16);
  }
  if (inet_pton(AF_INET6, z.c_str(), bytes) == 1) return AddressKey(reinterpret_cast<char*>(bytes), 16);
  return std::nullopt;
}

std::string formatAddressKey(const AddressKey& key) {
  if (key.size() != 16) return "?";
  const auto* b = reinterpret_cast<const unsigned char*>(key.data());
  char out[INET6_ADDRSTRLEN] = {};
  static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(b, kMapped, 12) == 0) {
    inet_ntop(AF_INET, b + 12, out, sizeof(out));
  } else {
    inet_ntop(AF_INET6, b, out, sizeof(out));
  }
  return out;
}

bool TrustedProxies::add(std::string_view cidr, std::string& error) {
  size_t slash = cidr.find('/');
  std::optional<AddressKey> base = parseAddress(cidr.substr(0, slash));
  if (!base) {
    error = "trusted proxy '" + std::string(cidr) + "': not an IPv4 or IPv6 address";
    return false;
  }
  const bool v4 = base->compare(0, 12, std::string("\0\0\0\0\0\0\0\0\0\0\xff\xff", 12)) == 0;
  int bits = 128;
  if (slash != std::string_view::npos) {
    std::string_view n = cidr.substr(slash + 1);
    int prefix = -1;
    auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), prefix);
    if (ec != std::errc() || end != n.data() + n.size() || prefix < 0 || prefix > (v4 ? 32 : 128)) {
      error = "trusted proxy '" + std::string(cidr) + "': bad prefix length";
      return false;
    }
    bits = v4 ? 96 + prefix : prefix;
  }
  ranges_.push_back({*base, bits});
  return true;
}

bool TrustedProxies::contains(const AddressKey& address) const {
  if (address.size() != 16) return false;
  for (const Range& r : ranges_) {
    int full = r.bits / 8;
    if (address.compare(0, static_cast<size_t>(full), r.base, 0, static_cast<size_t>(full)) != 0) continue;
    int rest = r.bits % 8;
    if (rest == 0) return true;
    unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
    if ((static_cast<unsigned char>(address[full]) & mask) == (static_cast<unsigned char>(r.base[full]) & mask)) return true;
  }
  return false;
}

AddressKey TrustedProxies::clientAddress(const AddressKey& peer, std::optional<std::string_view> forwardedFor) const {
  if (!forwardedFor || !contains(peer)) return peer;
  std::string_view list = *forwardedFor;
  // From the right: each trusted proxy vouches for the address before it.
  while (!list.empty()) {
    size_t comma = list.rfind(',');
    std::string_view item = comma == std::string_view::npos ? list : list.substr(comma + 1);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(0, comma);
    std::optional<AddressKey> address = parseAddress(item);
    if (!address) return peer;
    if (!contains(*address)) return *address;
  }
  return peer;
}

bool AddressCounts::tryAdd(const AddressKey& address, uint32_t cap) {
  uint32_t& count = counts_[address];
  if (count >= cap) {
    if (count == 0) counts_.erase(address);
    return false;
  }
  ++count;
  return true;
}

void AddressCounts::remove(const AddressKey& address) {
  auto it = counts_.find(address);
  if (it == counts_.end()) return;
  if (--it->second == 0) counts_.erase(it);
}

uint32_t AddressCounts::count(const AddressKey& address) const {
  auto it = counts_.find(address);
  return it == counts_.end() ? 0 : it->second;
}

// ---- UserRateLimits ---------------------------------------------------------------------------

bool UserRateLimits::take(std::string_view user, uint64_t nowMs, uint32_t perSecond, uint32_t burst) {
  const uint64_t cap = fullBucketMilli(burst);
  if (buckets_.size() >= pruneAt_) {
    // Buckets that filled up again are the same as none.
    std::erase_if(buckets_, [&](const auto& entry) {
      return entry.second.tokensMilli + (nowMs - entry.second.refillMs) * perSecond >= cap;
    });
    pruneAt_ = std::max<size_t>(1024, buckets_.size() * 2);
  }
  auto [it, added] = buckets_.try_emplace(std::string(user));
  Bucket& b = it->second;
  if (added) {
    b.refillMs = nowMs;
    b.tokensMilli = cap;
  }
  return takeToken(b.refillMs, b.tokensMilli, nowMs, perSecond, burst);
}

}  // namespace webim
