// What the hub puts on its publish socket and in history pages: wire::Delivery (proto/webim.proto)
// built from the store's records. The one place a StoredMessage becomes a Delivery. Pure.
#pragma once

#include <cstddef>
#include <string>
#include <utility>

#include "broadcast/history_store.h"
#include "proto/webim.pb.h"

namespace webim::hub {

// Fills `out` from a stored message; the strings are moved out of an rvalue (a history page read
// for one reply) and copied from an lvalue.
template <class Message>
void toDelivery(Message&& m, wire::Delivery& out) {
  out.set_channel(std::forward<Message>(m).channel);
  out.set_epoch(m.epoch);
  out.set_seq(m.seq);
  out.set_from(std::forward<Message>(m).from);
  out.set_ts_ms(m.tsMs);
  out.set_data(std::forward<Message>(m).data);
  out.set_edit_of(m.editOf);
  out.set_delete_of(m.deleteOf);
  out.set_deleted(m.deleted);
  out.set_notice_channel(std::forward<Message>(m).noticeChannel);
  out.set_notice_seq(m.noticeSeq);
}

// The encoded wire::Delivery of a stored message, written straight from its fields: byte for byte
// what toDelivery + SerializeToString give (fields in number order, zero and empty ones left out),
// without the Delivery's copies of channel, from and data. What the hub publishes per message.
size_t encodedDeliverySize(const StoredMessage& m);
// Writes exactly encodedDeliverySize(m) bytes at `out`; returns the end.
char* encodeDelivery(const StoredMessage& m, char* out);

// sync{epoch, last}: where a channel's stream stands (a Delivery with `sync` set and no data).
std::string syncMarker(const std::string& channel, const ChannelMeta& meta);
// The sync on a frontend's own topic: it carries the hub's boot id in `epoch` (a new one tells
// the frontend to attach its inboxes again).
std::string bootMarker(uint64_t bootId);

}  // namespace webim::hub
