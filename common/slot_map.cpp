#include "common/slot_map.h"

#include <simdjson.h>
#include <zlib.h>

#include <charconv>

namespace webim {

namespace {
constexpr uint16_t kUnowned = 0xffff;

bool parseNumber(std::string_view text, uint32_t& out) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

// "A-B", "N", "A-B,N,..." -> slots; false on a malformed or out-of-range item.
bool parseSlotList(std::string_view list, std::vector<uint32_t>& out) {
  while (true) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    size_t dash = item.find('-');
    uint32_t from = 0, to = 0;
    if (dash == std::string_view::npos) {
      if (!parseNumber(item, from)) return false;
      to = from;
    } else if (!parseNumber(item.substr(0, dash), from) || !parseNumber(item.substr(dash + 1), to) || from > to) {
      return false;
    }
    if (to >= kSlotCount) return false;
    for (uint32_t s = from; s <= to; ++s) out.push_back(s);
    if (comma == std::string_view::npos) return true;
    list = list.substr(comma + 1);
  }
}
}  // namespace

uint32_t slotOf(std::string_view channel) noexcept {
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(channel.data()), static_cast<uInt>(channel.size()));
  return static_cast<uint32_t>(crc % kSlotCount);
}

SlotMap SlotMap::single(Shard shard) {
  SlotMap map;
  map.shards_.push_back(std::move(shard));
  map.owner_.assign(kSlotCount, 0);
  return map;
}

namespace {

// The table's top level: "slots" (if given) is kSlotCount, "shards" a non-empty array. "" or the error.
std::string readTable(simdjson::dom::element root, simdjson::dom::array& shards) {
  int64_t slots = kSlotCount;
  if (auto e = root["slots"].get(slots); e && e != simdjson::NO_SUCH_FIELD) return "\"slots\" must be a number";
  if (slots != kSlotCount) return "\"slots\" must be " + std::to_string(kSlotCount);
  if (root["shards"].get(shards) || shards.size() == 0) return "\"shards\" must be a non-empty array";
  return {};
}

// One shard's name, endpoints and key; `earlier` are the shards before it. "" or the error.
std::string readShard(simdjson::dom::element entry, const std::vector<Shard>& earlier, Shard& shard) {
  std::string_view text;
  if (entry["name"].get(text) || text.empty()) return "every shard needs a \"name\"";
  shard.name = text;
  for (const Shard& other : earlier) {
    if (other.name == shard.name) return "shard \"" + shard.name + "\" appears twice";
  }
  for (auto [key, field] : {std::pair{"app_ingress", &shard.appIngress}, std::pair{"hub_ingress", &shard.hubIngress},
                            std::pair{"hub_pub", &shard.hubPub}, std::pair{"curve_server_key", &shard.curveServerKey}}) {
    if (entry[key].get(text) == simdjson::SUCCESS) *field = text;
  }
  // One key pair per hub: a secret shared by several hubs would let any of them pass for the others.
  for (const Shard& other : earlier) {
    if (!shard.curveServerKey.empty() && other.curveServerKey == shard.curveServerKey) {
      return "shards \"" + other.name + "\" and \"" + shard.name +
             "\" have the same curve_server_key: give each hub its own key pair (webim-broadcast keygen)";
    }
  }
  return {};
}

// A shard's "slots": a list string ("0-511", "0-9,20-29") or an array of numbers. "" or the error.
std::string readOwnedSlots(simdjson::dom::element entry, const std::string& name, std::vector<uint32_t>& owned) {
  simdjson::dom::element slotsField;
  if (entry["slots"].get(slotsField)) {
    return "shard \"" + name + "\" needs \"slots\" (\"0-511\", \"0-9,20-29\" or a list)";
  }
  bool ok = true;
  if (slotsField.is_string()) {
    ok = parseSlotList(std::string_view(slotsField), owned);
  } else if (slotsField.is_array()) {
    for (simdjson::dom::element n : simdjson::dom::array(slotsField)) {
      uint64_t slot = 0;
      if (n.get(slot) || slot >= kSlotCount) {
        ok = false;
        break;
      }
      owned.push_back(static_cast<uint32_t>(slot));
    }
  } else {
    ok = false;
  }
  if (!ok) return "shard \"" + name + "\": bad \"slots\" (slots are 0.." + std::to_string(kSlotCount - 1) + ")";
  return {};
}

}  // namespace

std::optional<SlotMap> SlotMap::parse(std::string_view json, std::string& error) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto e = parser.parse(json.data(), json.size()).get(root)) {
    error = std::string("not valid JSON: ") + simdjson::error_message(e);
    return std::nullopt;
  }
  simdjson::dom::array shards;
  if (error = readTable(root, shards); !error.empty()) return std::nullopt;
  SlotMap map;
  map.owner_.assign(kSlotCount, kUnowned);
  for (simdjson::dom::element entry : shards) {
    Shard shard;
    if (error = readShard(entry, map.shards_, shard); !error.empty()) return std::nullopt;
    std::vector<uint32_t> owned;
    if (error = readOwnedSlots(entry, shard.name, owned); !error.empty()) return std::nullopt;
    const uint16_t index = static_cast<uint16_t>(map.shards_.size());
    for (uint32_t slot : owned) {
      if (map.owner_[slot] != kUnowned) {
        error = "slot " + std::to_string(slot) + " belongs to two shards";
        return std::nullopt;
      }
      map.owner_[slot] = index;
    }
    map.shards_.push_back(std::move(shard));
  }
  for (uint32_t slot = 0; slot < kSlotCount; ++slot) {
    if (map.owner_[slot] == kUnowned) {
      error = "slot " + std::to_string(slot) + " belongs to no shard";
      return std::nullopt;
    }
  }
  return map;
}

std::optional<size_t> SlotMap::findShard(std::string_view name) const {
  for (size_t i = 0; i < shards_.size(); ++i) {
    if (shards_[i].name == name) return i;
  }
  return std::nullopt;
}

}  // namespace webim
