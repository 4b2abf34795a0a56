#include "broadcast/run_marker.h"

#include <charconv>

#include "broadcast/delivery_mode.h"

namespace webim::hub {

namespace {

std::optional<uint64_t> parseHex(std::string_view text) {
  uint64_t value = 0;
  if (text.size() != 16) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0) return std::nullopt;
  return value;
}

// The next space-separated word of `text` (consumed).
std::string_view word(std::string_view& text) {
  const size_t space = text.find(' ');
  const std::string_view out = text.substr(0, space);
  text = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
  return out;
}

}  // namespace

std::string runMarkerName(std::string_view shard) {
  return shard.empty() ? std::string("run") : "run/" + std::string(shard);
}

std::string runMarker(bool clean, uint64_t generation, const std::vector<std::string>& namespaces) {
  char hex[17];
  static constexpr char kDigits[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i, generation >>= 4) hex[i] = kDigits[generation & 0xf];
  hex[16] = '\0';
  return std::string(clean ? "clean " : "running ") + hex + " " + joinNamespaces(namespaces);
}

RunStart startRun(const std::optional<std::string>& stored, uint64_t fresh) {
  if (!stored) return {fresh, false, {}};
  std::string_view text = *stored;
  const std::string_view state = word(text);
  const std::optional<uint64_t> generation = parseHex(word(text));
  RunStart out{fresh, true, splitNamespaces(word(text))};
  if (state == "clean" && generation) {
    out.generation = *generation;
    out.unclean = false;
  }
  return out;  // "running G ...", or a marker this release cannot read: assume the worst
}

}  // namespace webim::hub
