#include "broadcast/run_marker.h"

#include <charconv>

namespace webim::hub {

namespace {

std::optional<uint64_t> parseHex(std::string_view text) {
  uint64_t value = 0;
  if (text.size() != 16) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0) return std::nullopt;
  return value;
}

}  // namespace

std::string runMarkerName(std::string_view shard) {
  return shard.empty() ? std::string("run") : "run/" + std::string(shard);
}

std::string runMarker(bool clean, uint64_t generation) {
  char hex[17];
  static constexpr char kDigits[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i, generation >>= 4) hex[i] = kDigits[generation & 0xf];
  hex[16] = '\0';
  return std::string(clean ? "clean " : "running ") + hex;
}

RunStart startRun(const std::optional<std::string>& stored, uint64_t fresh) {
  if (!stored) return {fresh, false};
  const std::string_view text = *stored;
  constexpr std::string_view kClean = "clean ";
  if (text.substr(0, kClean.size()) == kClean) {
    if (std::optional<uint64_t> generation = parseHex(text.substr(kClean.size()))) return {*generation, false};
  }
  return {fresh, true};  // "running G", or a marker this release cannot read: assume the worst
}

}  // namespace webim::hub
