#include "frontend/read_receipt.h"

namespace webim {

void writeReadReceipt(JsonWriter& writer, const wire::ReadReceipt& receipt) {
  writer.beginObject()
      .key("op").string("read")
      .key("ch").string(receipt.channel())
      .key("user").string(receipt.user())
      .key("seq").uinteger(receipt.seq())
      .endObject();
}

}  // namespace webim
