// The text form of a channel epoch (docs/protocol.md): 16 lowercase hex digits. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace webim {

std::string formatEpoch(uint64_t epoch);  // 16 lowercase hex digits
// Inverse of formatEpoch: exactly 16 lowercase hex digits (the canonical form, so equal epochs
// always have equal text); anything else is nullopt.
std::optional<uint64_t> parseEpoch(std::string_view text);

}  // namespace webim
