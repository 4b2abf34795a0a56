// Per-frontend bounds that are not per connection (docs/protocol.md "Limits"):
//  - UserCounts: connections per user (`max_connections_per_user`, default 32). Every connected user
//    has an entry, so an entry is one 8-byte slot of an open-addressing table: 48 bits of the user
//    id's hash and a 16-bit count (two users whose hashes share 48 bits share a count: with 18,000
//    users per frontend that happens about once in 10^6 frontends, and only makes their cap shared).
//  - AddressCounts: connections per client address (`max_connections_per_address`, off by default),
//    the address being the peer's or, behind a trusted proxy, the one it reports (ClientAddress).
//  - UserRateLimits: a token bucket per user for the HTTP fallback's POST /cmd, where each request is
//    a connection of its own (so the per-connection bucket never fills).
// Pure: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace webim {

class UserCounts {
 public:
  // Counts one more connection of `user` unless it already has `cap`; false (nothing counted) then.
  bool tryAdd(std::string_view user, uint32_t cap);
  void remove(std::string_view user);
  uint32_t count(std::string_view user) const;
  size_t users() const noexcept { return size_; }
  size_t capacity() const noexcept { return slots_.size(); }

 private:
  static uint64_t keyOf(std::string_view user) noexcept;
  size_t find(uint64_t key) const noexcept;  // the slot holding key, or SIZE_MAX
  void eraseSlot(size_t slot) noexcept;
  void rehash(size_t capacity);

  std::vector<uint64_t> slots_;  // key << 16 | count; 0 = empty; a power of two in size, or empty
  size_t size_ = 0;
};

// A client address in a comparable form: 16 bytes (IPv4 mapped into IPv6), or nullopt.
using AddressKey = std::string;  // 16 bytes
std::optional<AddressKey> parseAddress(std::string_view text);  // "1.2.3.4" or "2001:db8::1"
std::string formatAddressKey(const AddressKey& key);

// CIDR ranges of the proxies whose X-Forwarded-For is believed (`trusted_proxies`).
class TrustedProxies {
 public:
  // "10.0.0.0/8", "127.0.0.1", "::1", "fd00::/8"; false (with `error`) for a malformed entry.
  bool add(std::string_view cidr, std::string& error);
  bool contains(const AddressKey& address) const;
  bool empty() const noexcept { return ranges_.empty(); }
  // The client's address: the peer's, or, when the peer is a trusted proxy, the rightmost address of
  // X-Forwarded-For that is not itself a trusted proxy (proxies append; only ours are believed).
  // A malformed header from a trusted proxy gives the proxy's address.
  AddressKey clientAddress(const AddressKey& peer, std::optional<std::string_view> forwardedFor) const;

 private:
  struct Range {
    AddressKey base;
    int bits = 128;
  };
  std::vector<Range> ranges_;
};

class AddressCounts {
 public:
  bool tryAdd(const AddressKey& address, uint32_t cap);
  void remove(const AddressKey& address);
  uint32_t count(const AddressKey& address) const;

 private:
  std::unordered_map<AddressKey, uint32_t> counts_;
};

class UserRateLimits {
 public:
  // One request of `user` at `nowMs` under `perSecond` with `burst`: false when over the limit.
  bool take(std::string_view user, uint64_t nowMs, uint32_t perSecond, uint32_t burst);
  size_t users() const noexcept { return buckets_.size(); }

 private:
  struct Bucket {
    uint64_t refillMs = 0;
    uint64_t tokensMilli = 0;
  };
  std::unordered_map<std::string, Bucket> buckets_;
  size_t pruneAt_ = 1024;
};

}  // namespace webim
