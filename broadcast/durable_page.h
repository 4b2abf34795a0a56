// A history page holds durable messages only. With the pipelined group commit the store may already
// show a batch still waiting for its sync (HistoryStore::write); the hub reads pages with the
// channel's durable position (Sequencer::channelState) and cuts them there. Pure.
#pragma once

#include <algorithm>

#include "broadcast/history_store.h"

namespace webim::hub {

// A backward page ends below the durable position.
inline HistoryQuery durableQuery(HistoryQuery query, const ChannelMeta& durable) {
  if (query.before != 0) query.before = std::min(query.before, durable.lastSeq + 1);
  return query;
}

// Drops what is past the durable position; a channel not durable yet reads as never written.
inline void clampPage(HistoryPage& page, const ChannelMeta& durable) {
  if (page.lastSeq <= durable.lastSeq) return;
  if (durable.lastSeq == 0) {
    page = HistoryPage{};
    return;
  }
  const size_t before = page.msgs.size();
  std::erase_if(page.msgs, [&](const StoredMessage& m) { return m.seq > durable.lastSeq; });
  if (page.msgs.size() != before) page.more = false;  // nothing durable beyond
  page.lastSeq = durable.lastSeq;
  page.epoch = durable.epoch;
}

}  // namespace webim::hub
