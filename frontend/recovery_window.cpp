#include "frontend/recovery_window.h"

namespace webim {

namespace {
// Per-message overhead counted against recovery_max_bytes beyond data and channel name (the JSON
// envelope, roughly).
constexpr size_t kMessageOverheadBytes = 64;
}  // namespace

bool RecoveryWindow::take(const wire::HistoryPage& page, uint64_t epoch, uint64_t liveSeq) {
  if (page.epoch() != epoch || page.msgs().empty()) return false;
  for (const wire::Delivery& m : page.msgs()) {
    if (m.seq() != cursor_ + 1) {  // history lost this range: a gap we cannot fill
      withinWindow_ = false;
      break;
    }
    if (m.seq() > liveSeq) break;  // arrives live (or already did, in order)
    bytes_ += m.data().size() + m.channel().size() + kMessageOverheadBytes;
    if (missed_.size() >= maxMessages_ || bytes_ > maxBytes_) {
      withinWindow_ = false;
      break;
    }
    missed_.push_back(m);
    cursor_ = m.seq();
  }
  // History ends before what we delivered live: it lost messages.
  if (!page.more() && cursor_ < liveSeq) withinWindow_ = false;
  return true;
}

}  // namespace webim
