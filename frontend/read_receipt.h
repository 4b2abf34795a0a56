// A read receipt's JSON (docs/protocol.md "Read cursors and receipts"): a Delivery with `signal`
// and `read` set, delivered on a dm: channel, an opted-in room, or the reader's own inbox as
//   {"op":"read","ch":<the channel read>,"user":<the reader>,"seq":<the cursor now>}
#pragma once

#include "common/json_writer.h"
#include "proto/webim.pb.h"

namespace webim {

void writeReadReceipt(JsonWriter& writer, const wire::ReadReceipt& receipt);

}  // namespace webim
