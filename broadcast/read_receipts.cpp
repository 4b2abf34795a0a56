// Read receipts on the publish socket (docs/architecture.md "Read cursors"): carried like a signal,
// best effort, never stored or gap-filled.
#include "broadcast/publisher.h"

namespace webim::hub {

void Publisher::publishReceipt(const std::string& onChannel, const std::string& channel, const std::string& user,
                               uint64_t seq) {
  wire::Delivery delivery;
  delivery.set_channel(onChannel);
  delivery.set_signal(true);
  wire::ReadReceipt* read = delivery.mutable_read();
  read->set_channel(channel);
  read->set_user(user);
  read->set_seq(seq);
  publishRouted(onChannel, delivery.SerializeAsString());
}

}  // namespace webim::hub
