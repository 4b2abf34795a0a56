// Failpoints: named places in the code where a test makes an operation fail on purpose, to
// reproduce a failure that is hard to cause from outside (a store commit that fails, ...).
// Off unless the environment says otherwise, read once at the first check:
//
//   WEBIM_FAILPOINTS="hub.commit=1,other.point"   # hub.commit fails once, other.point always
//
// `name=N`: the next N checks of `name` fire, then it is off again; `name`: every check fires.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace webim {

class Failpoints {
 public:
  // Parses "name[=count],..."; nullopt (with `error`) on a malformed list.
  static std::optional<Failpoints> parse(std::string_view text, std::string& error);
  // True when `name` fires now (and counts the firing).
  bool fire(std::string_view name);
  bool empty() const noexcept { return remaining_.empty(); }

 private:
  static constexpr uint64_t kAlways = UINT64_MAX;
  std::unordered_map<std::string, uint64_t> remaining_;
};

// The process's failpoints, from WEBIM_FAILPOINTS (a malformed value is reported on stderr once
// and ignored). Thread-safe; free (no lock) when WEBIM_FAILPOINTS names none.
bool failpoint(std::string_view name);

}  // namespace webim
