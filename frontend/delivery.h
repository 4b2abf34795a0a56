// One message's bytes for the clients of one frontend: the `msg` JSON is built once, and its
// transport encodings (a WebSocket text frame, a Server-Sent Event) are built at most once each and
// shared by every subscriber (docs/architecture.md: serialize once per frontend, no copy per delivery).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/json_writer.h"
#include "proto/webim.pb.h"

namespace webim {

using SharedFrame = std::shared_ptr<const std::string>;

// Frame bytes waiting to be written to one socket; `offset` bytes of it are already written.
struct OutChunk {
  SharedFrame frame;
  size_t offset = 0;
  size_t remaining() const noexcept { return frame->size() - offset; }
};

// This loop iteration's frames for every connection, one list per connection threaded through
// one vector (cleared after the flush), so an idle connection owns no write queue at all.
struct PendingFrame {
  SharedFrame frame;
  uint32_t next = UINT32_MAX;
};

// {"op":"msg","ch":..,"epoch":..,"seq":..,"from":..,"ts":..,"data":<verbatim>}, with "edit":S or
// "delete":S (no data) for edit and delete entries and "deleted":true (no data) for a deleted message
void writeMessage(JsonWriter& writer, const wire::Delivery& delivery);
std::string encodeMessage(const wire::Delivery& delivery);
// {"op":"signal","ch":..,"from":..,"ts":..,"data":<verbatim>} (a Delivery with `signal` set)
void writeSignal(JsonWriter& writer, const wire::Delivery& signal);
// {"op":"presence","ch","join":[...],"leave":[...],"ts"}: a Delivery with presence_join/leave.
void writePresenceEvent(JsonWriter& writer, const wire::Delivery& event);

// A WebSocket text frame carrying `json` (server frames are unmasked).
SharedFrame webSocketTextFrame(std::string_view json);
// A Server-Sent Event: "id: ch:epoch:seq" (so Last-Event-ID resumes) and the JSON as data (one
// data: line per line of it); seq 0 (a signal) has no id.
SharedFrame eventStreamFrame(std::string_view channel, uint64_t epoch, uint64_t seq, std::string_view json);

class DeliveryFrames {
 public:
  DeliveryFrames(std::string_view channel, uint64_t epoch, uint64_t seq, std::string_view json)
      : channel_(channel), epoch_(epoch), seq_(seq), json_(json) {}
  std::string_view json() const noexcept { return json_; }
  const SharedFrame& webSocket() {
    if (!webSocket_) webSocket_ = webSocketTextFrame(json_);
    return webSocket_;
  }
  const SharedFrame& eventStream() {
    if (!eventStream_) eventStream_ = eventStreamFrame(channel_, epoch_, seq_, json_);
    return eventStream_;
  }

 private:
  std::string_view channel_;
  uint64_t epoch_;
  uint64_t seq_;
  std::string_view json_;
  SharedFrame webSocket_;
  SharedFrame eventStream_;
};

}  // namespace webim
