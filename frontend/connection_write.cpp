// A connection's write path: frames are queued during a loop iteration (shared frame bytes, no copy
// per subscriber) and written at its end with one sendmsg per socket; only a socket that would not
// take everything keeps a backlog. The backlog limit (4009) is for fan-out a slow client cannot keep
// up with; its own replies get an allowance on top (docs/protocol.md section 1).
#include <sys/socket.h>

#include <algorithm>

#include "frontend/connection.h"
#include "frontend/frontend.h"

namespace webim {

namespace {
constexpr size_t kMaxWriteBufs = 64;  // buffers per sendmsg; the rest go in the next one
}  // namespace

void Connection::send(SharedFrame frame, bool own) {
  if (phase_ == Phase::Closed || frame->empty()) return;
  // A reply of the client's own (or any frame while a replay of its own is on its way) may use the
  // allowance on top of the backlog limit; the replays themselves are paced (ReplayPacer).
  size_t limit = frontend().config().maxBacklogBytes + (own || replaying_ ? kOwnAllowance : 0);
  if ((phase_ == Phase::WebSocket || phase_ == Phase::Stream) && queuedBytes() + frame->size() > limit) {
    // The client cannot keep up; it is closed 4009 at the flush (never from inside a fan-out loop,
    // which would change the subscriber list under it) and may resume with `since` (docs/protocol.md).
    // An event stream the same: it ends, and the client resumes with Last-Event-ID.
    tooSlow_ = true;
    frontend().markDirty(this);
    return;
  }
  queueFrame(std::move(frame));
}

// Appends to this iteration's frames (no per-connection queue while idle); flushed at the end of
// the loop iteration, all frames ready for one socket in one sendmsg.
void Connection::queueFrame(SharedFrame frame) {
  size_t size = frame->size();
  frontend().metrics().messagesOut++;
  frontend().metrics().bytesOut += size;
  uint32_t index = frontend().appendPendingFrame(std::move(frame));
  if (pendingTail_ == kNoFrame) {
    pendingHead_ = index;
  } else {
    frontend().pendingFrame(pendingTail_).next = index;
  }
  pendingTail_ = index;
  pendingBytes_ += static_cast<uint32_t>(size);
  frontend().markDirty(this);
}

void Connection::dropPending() {
  pendingHead_ = pendingTail_ = kNoFrame;
  pendingBytes_ = 0;
}

void Connection::deliver(DeliveryFrames& frames, bool own) {
  switch (phase_) {
    case Phase::WebSocket:
      send(frames.webSocket(), own);
      break;
    case Phase::Stream:
      if (stream()->eventStream) {
        send(frames.eventStream(), own);
      } else {
        // One answer holds at most max_backlog_bytes (and one message): once full, nothing more
        // (of any channel, so none skips a seq); the client polls again from what it got.
        StreamState& s = *stream();
        if (s.pollFull) break;
        if (!s.poll.empty() && s.poll.size() + frames.json().size() > frontend().config().maxBacklogBytes) {
          s.pollFull = true;
          break;
        }
        if (!s.poll.empty()) s.poll.push_back(',');
        s.poll.append(frames.json());
        frontend().markDirty(this);  // answered at the end of this loop iteration
      }
      break;
    default:
      break;
  }
}

void Connection::deliverOwn(std::string_view channel, uint64_t epoch, uint64_t seq, std::string_view json) {
  DeliveryFrames frames(channel, epoch, seq, json);
  deliver(frames, true);
}

void Connection::sendReply(std::string_view json) {
  if (phase_ == Phase::WebSocket) {
    sendText(json);
  } else if (isCommand() && phase_ == Phase::Http) {
    finishHttp(withHeaders(httpResponse(200, "application/json", json), corsReply()));
  }
}

void Connection::sendText(std::string_view json) {
  if (json.empty()) return;
  send(webSocketTextFrame(json), true);
}

void Connection::flush() {
  flushQueued_ = false;
  if (StreamState* s = stream(); s && !s->eventStream && !s->poll.empty()) finishPoll();
  if (tooSlow_ && phase_ == Phase::Stream) {
    // An event stream that cannot keep up ends (no close frame to send): the client reconnects
    // and resumes with Last-Event-ID.
    dropPending();
    frontend().metrics().streamsTooSlow++;
    logEvent(LogEvent::SlowConsumerClose, "closed: too slow (backlog over max_backlog_bytes)", {{"why", "backlog"}});
    destroy();
    return;
  }
  if (tooSlow_ && phase_ == Phase::WebSocket) {
    dropPending();
    if (backlog_) {
      // Drop what waits, except the rest of a frame the socket took in part: the close frame must
      // follow whole frames.
      auto& queue = backlog_->queue;
      size_t keep = !queue.empty() && queue.front().offset > 0 ? 1 : 0;
      queue.erase(queue.begin() + static_cast<std::ptrdiff_t>(keep), queue.end());
      backlog_->bytes = keep ? queue.front().remaining() : 0;
    }
    logEvent(LogEvent::SlowConsumerClose, "closed: too slow (backlog over max_backlog_bytes)",
             {{"code", 4009}, {"why", "backlog"}});
    close(4009, "too slow");
  }
  if (phase_ == Phase::Closed) {
    dropPending();
    return;
  }
  // This iteration's frames go behind whatever is already backed up.
  std::vector<OutChunk>& out = backlog_ ? backlog_->queue : frontend().writeScratch();
  if (!backlog_) out.clear();
  for (uint32_t i = pendingHead_; i != kNoFrame;) {
    PendingFrame& pending = frontend().pendingFrame(i);
    out.push_back({std::move(pending.frame), 0});
    i = pending.next;
  }
  if (backlog_) backlog_->bytes += pendingBytes_;
  dropPending();
  if (backlog_ && backlog_->waiting) return;  // they follow when the socket drains
  size_t first = 0;
  size_t written = 0;
  if (!writeOut(out, first, written)) {
    if (!backlog_) out.clear();
    destroy();
    return;
  }
  if (first == out.size()) {
    out.clear();
    if (backlog_) {
      backlog_.reset();  // no write queue while idle
      watch(false);
    }
    if (replaying_) frontend().replayPacer().drained(this);
    afterFlushed();
    return;
  }
  // The socket is backed up: keep the rest until it drains (a writable event).
  if (!backlog_) {
    auto backlog = std::make_unique<Backlog>(frontend().metrics().backlogBytes);
    backlog->queue.assign(std::make_move_iterator(out.begin() + static_cast<std::ptrdiff_t>(first)),
                          std::make_move_iterator(out.end()));
    out.clear();
    for (const OutChunk& chunk : backlog->queue) backlog->bytes += chunk.remaining();
    backlog->stalledSinceMs = frontend().nowMs();
    backlog_ = std::move(backlog);
    watch(true);
    if (phase_ == Phase::WebSocket) armWebSocketDeadline();
    if (phase_ == Phase::Stream) armStreamDeadline();
  } else {
    backlog_->queue.erase(backlog_->queue.begin(), backlog_->queue.begin() + static_cast<std::ptrdiff_t>(first));
    backlog_->bytes -= written;
    if (written > 0) backlog_->stalledSinceMs = frontend().nowMs();  // the write timeout counts from the last progress
  }
  backlog_->waiting = true;
  if (replaying_ && backlog_->bytes <= ReplayPacer::kLowWaterBytes) frontend().replayPacer().drained(this);
}

// Writes out[first...] with sendmsg, kMaxWriteBufs buffers at a time, until everything is written
// or the socket takes no more; advances `first` past what was written whole and adds the bytes to
// `written`. False if the socket failed.
bool Connection::writeOut(std::vector<OutChunk>& out, size_t& first, size_t& written) {
  while (first < out.size()) {
    iovec iov[kMaxWriteBufs];
    size_t count = std::min(out.size() - first, kMaxWriteBufs);
    size_t offered = 0;
    for (size_t i = 0; i < count; ++i) {
      const OutChunk& chunk = out[first + i];
      iov[i] = {const_cast<char*>(chunk.frame->data() + chunk.offset), chunk.remaining()};
      offered += chunk.remaining();
    }
    msghdr message{};
    message.msg_iov = iov;
    message.msg_iovlen = count;
    ssize_t n = ::sendmsg(fd_, &message, MSG_NOSIGNAL);  // no SIGPIPE from a peer that went away
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    size_t left = static_cast<size_t>(n);
    written += left;
    while (left > 0) {
      OutChunk& chunk = out[first];
      size_t remaining = chunk.remaining();
      if (left >= remaining) {
        left -= remaining;
        chunk.frame.reset();
        ++first;
      } else {
        chunk.offset += left;
        left = 0;
      }
    }
    if (static_cast<size_t>(n) < offered) return true;  // full
  }
  return true;
}

void Connection::afterFlushed() {
  if (!shutdownAfterFlush_ || phase_ == Phase::Closed) return;
  shutdownAfterFlush_ = false;
  // Send FIN and keep reading until the peer's EOF (or the close deadline), so that the peer
  // reads our last bytes before the socket goes away (closing with unread input would send RST).
  if (::shutdown(fd_, SHUT_WR) != 0) destroy();
}

}  // namespace webim
