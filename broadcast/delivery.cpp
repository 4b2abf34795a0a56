#include "broadcast/delivery.h"

namespace webim::hub {

std::string syncMarker(const std::string& channel, const ChannelMeta& meta) {
  wire::Delivery sync;
  sync.set_channel(channel);
  sync.set_sync(true);
  sync.set_epoch(meta.epoch);
  sync.set_seq(meta.lastSeq);
  return sync.SerializeAsString();
}

std::string bootMarker(uint64_t bootId) {
  wire::Delivery boot;
  boot.set_sync(true);
  boot.set_epoch(bootId);
  return boot.SerializeAsString();
}

}  // namespace webim::hub
