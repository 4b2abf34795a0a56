// Shards: channels map to slots by crc32(name) % 1024 (zlib's CRC-32, the same as PHP's crc32()),
// and slots to hubs through one table in the shared config, read by hubs, frontends and the PHP
// library (docs/protocol.md section 6). The table is JSON so that PHP reads it without a library:
//
//   {"slots": 1024,
//    "shards": [{"name": "hub0", "slots": "0-511",
//                "app_ingress": "tcp://10.0.0.1:5560", "hub_ingress": "tcp://10.0.0.1:5561",
//                "hub_pub": "tcp://10.0.0.1:5562", "curve_server_key": "<Z85, 40 chars>"},
//               {"name": "hub1", "slots": "512-1023", ...}]}
//
// A shard's "slots" is "A-B" (inclusive), "N", a comma-separated list of those, or a JSON array of
// slot numbers. Every slot must belong to exactly one shard, and every hub has its own CURVE key
// pair (no two shards share a curve_server_key). Pure: parsing and lookup only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace webim {

inline constexpr uint32_t kSlotCount = 1024;

uint32_t slotOf(std::string_view channel) noexcept;

struct Shard {
  std::string name;
  std::string appIngress;
  std::string hubIngress;
  std::string hubPub;
  std::string curveServerKey;  // the hub's CURVE public key (Z85), required off loopback
};

class SlotMap {
 public:
  // One shard owning every slot (a deployment with one hub).
  static SlotMap single(Shard shard);
  // Parses a table; nullopt with `error` set on any problem (clear message for the operator).
  static std::optional<SlotMap> parse(std::string_view json, std::string& error);

  const std::vector<Shard>& shards() const noexcept { return shards_; }
  size_t shardOfSlot(uint32_t slot) const noexcept { return owner_[slot % kSlotCount]; }
  size_t shardOf(std::string_view channel) const noexcept { return shardOfSlot(slotOf(channel)); }
  std::optional<size_t> findShard(std::string_view name) const;

 private:
  std::vector<Shard> shards_;
  std::vector<uint16_t> owner_;  // slot -> index into shards_
};

}  // namespace webim
