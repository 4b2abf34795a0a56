// Per-namespace delivery mode (docs/durability.md "Delivery modes"). `durable` (the default): a
// batch's messages are published once its sync is done, like its acks. `fast`: published once the
// batch is written, before its sync; the sender's ack still waits for the sync. Subscribers of a
// fast channel may so see a message a crash then loses: such a channel starts a new epoch, so no
// (epoch, seq) is ever shown for two different messages.
//
// Two sets: fast namespaces (published early: configured, and only when the hub has a sync step
// to publish before), and generational ones, whose channels take their epoch from the run's
// generation (run_marker.h): every namespace ever published early, as the run marker records it,
// so that a namespace taken out of `fast_namespaces` (or a run without early publishing after a
// crash) still moves its channels to new epochs when a crash may have lost what was shown.
// Pure: which channels are which.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace webim::hub {

class DeliveryModes {
 public:
  // The configured fast namespaces (the part of a channel name before its first ':', e.g.
  // "room"). "" on success, else what is wrong.
  std::string parse(const std::vector<std::string>& fastNamespaces);
  // At start: whether this run publishes early at all (a sync step exists), and the namespaces the
  // run marker recorded (generational ones of earlier runs; malformed ones are ignored).
  void settle(bool earlyPublish, const std::vector<std::string>& recorded);
  // Published once written.
  bool fast(std::string_view channel) const { return matches(fast_, channel); }
  bool anyFast() const noexcept { return !fast_.empty(); }
  const std::vector<std::string>& fastNamespaces() const noexcept { return fast_; }
  // Epochs from the run's generation.
  bool generational(std::string_view channel) const { return matches(generational_, channel); }
  bool anyGenerational() const noexcept { return !generational_.empty(); }
  const std::vector<std::string>& generationalNamespaces() const noexcept { return generational_; }

 private:
  static bool matches(const std::vector<std::string>& namespaces, std::string_view channel);

  std::vector<std::string> fast_;          // a handful: a linear scan is the fastest lookup
  std::vector<std::string> generational_;  // fast_ and those recorded
};

// "a,b" <-> {"a", "b"} (namespaces never hold ',').
std::string joinNamespaces(const std::vector<std::string>& namespaces);
std::vector<std::string> splitNamespaces(std::string_view text);

}  // namespace webim::hub
