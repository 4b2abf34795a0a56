// Per-namespace delivery mode (docs/durability.md "Delivery modes"). `durable` (the default): a
// batch's messages are published once its sync is done, like its acks. `fast`: published once the
// batch is written, before its sync; the sender's ack still waits for the sync. Subscribers of a
// fast channel may so see a message a crash then loses: such a channel starts a new epoch
// (FastEpochs, run_state.h), so no seq is ever shown for two different messages of one epoch.
// Pure: which channels are fast.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace webim::hub {

class DeliveryModes {
 public:
  // Namespaces (the part of a channel name before its first ':', e.g. "room") delivered fast.
  // "" on success, else what is wrong.
  std::string parse(const std::vector<std::string>& fastNamespaces);
  bool fast(std::string_view channel) const;
  bool anyFast() const noexcept { return !fast_.empty(); }
  const std::vector<std::string>& fastNamespaces() const noexcept { return fast_; }

 private:
  std::vector<std::string> fast_;  // a handful: a linear scan is the fastest lookup
};

}  // namespace webim::hub
