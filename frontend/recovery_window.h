// What a subscriber with `since` missed, gathered page by page from history (docs/architecture.md,
// "Joining a channel without a gap", step 4): the messages after `since`, in order and without a
// hole, up to what this frontend delivered live so far, within recovery_max_messages and
// recovery_max_bytes. Pure: the join flow (connection_join.cpp) reads the pages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "proto/webim.pb.h"

namespace webim {

class RecoveryWindow {
 public:
  RecoveryWindow(uint64_t since, size_t maxMessages, size_t maxBytes)
      : cursor_(since), maxMessages_(maxMessages), maxBytes_(maxBytes) {}

  // The seq the next page starts after.
  uint64_t cursor() const noexcept { return cursor_; }
  // Whether another page is wanted to reach `liveSeq` (the channel's last seq delivered live, which
  // moves on while pages are read).
  bool wantsMore(uint64_t liveSeq) const noexcept { return withinWindow_ && cursor_ < liveSeq; }
  // Takes one page of the channel's history in `epoch`. False when the page cannot help (another
  // epoch, no messages): the caller stops reading.
  bool take(const wire::HistoryPage& page, uint64_t epoch, uint64_t liveSeq);
  // Everything up to `liveSeq` was recovered (else the client reads history itself).
  bool complete(uint64_t liveSeq) const noexcept { return withinWindow_ && cursor_ >= liveSeq; }
  std::vector<wire::Delivery> takeMissed() noexcept { return std::move(missed_); }

 private:
  uint64_t cursor_;
  size_t maxMessages_;
  size_t maxBytes_;
  size_t bytes_ = 0;
  bool withinWindow_ = true;
  std::vector<wire::Delivery> missed_;
};

}  // namespace webim
