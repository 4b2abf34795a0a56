#include "common/failpoint.h"

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace webim {

std::optional<Failpoints> Failpoints::parse(std::string_view text, std::string& error) {
  Failpoints out;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    std::string_view name = item.substr(0, eq);
    uint64_t count = kAlways;
    if (eq != std::string_view::npos) {
      std::string_view n = item.substr(eq + 1);
      auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), count);
      if (ec != std::errc() || end != n.data() + n.size() || count == 0) {
        error = "failpoint '" + std::string(name) + "': the count must be a positive integer";
        return std::nullopt;
      }
    }
    if (name.empty()) {
      error = "a failpoint needs a name";
      return std::nullopt;
    }
    out.remaining_[std::string(name)] = count;
  }
  return out;
}

bool Failpoints::fire(std::string_view name) {
  if (remaining_.empty()) return false;
  auto it = remaining_.find(std::string(name));
  if (it == remaining_.end()) return false;
  if (it->second != kAlways && --it->second == 0) remaining_.erase(it);
  return true;
}

bool failpoint(std::string_view name) {
  static Failpoints points = [] {
    const char* env = std::getenv("WEBIM_FAILPOINTS");
    if (env == nullptr) return Failpoints();
    std::string error;
    std::optional<Failpoints> parsed = Failpoints::parse(env, error);
    if (!parsed) {
      std::fprintf(stderr, "WEBIM_FAILPOINTS ignored: %s\n", error.c_str());
      return Failpoints();
    }
    std::fprintf(stderr, "WEBIM_FAILPOINTS set: %s\n", env);
    return *parsed;
  }();
  // Any thread may check (the hub's sync thread does); without failpoints there is nothing to lock.
  static const bool configured = !points.empty();
  if (!configured) return false;
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  return points.fire(name);
}

}  // namespace webim
