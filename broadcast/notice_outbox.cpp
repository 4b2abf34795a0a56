#include "broadcast/notice_outbox.h"

#include <algorithm>

namespace webim::hub {

NoticeOutbox::NoticeOutbox(size_t peers, Limits limits) : limits_(limits), peers_(peers) {}

bool NoticeOutbox::add(size_t peer, OutboxEntry entry) {
  if (peer >= peers_.size()) return false;
  if (items_.size() >= limits_.maxInMemory) {
    overflowed_ = true;
    return false;
  }
  const uint64_t id = nextItem_++;
  items_.emplace(id, Item{peer, std::move(entry)});
  peers_[peer].ready.insert(id);
  ++peers_[peer].state.waiting;
  return true;
}

void NoticeOutbox::retryLater(uint64_t id, Item& item, uint64_t nowMs) {
  Peer& p = peers_[item.peer];
  --p.state.inFlight;
  ++p.state.failures;
  byReq_.erase(item.reqId);
  item.reqId = 0;
  item.state = State::Backoff;
  p.backoff.insert(id);
  const uint32_t shift = std::min<uint32_t>(item.attempts, 20);
  item.timerDue = nowMs + std::min(limits_.backoffMaxMs, limits_.backoffMinMs << shift);
  ++item.attempts;
  timers_.emplace(item.timerDue, id);
}

void NoticeOutbox::fireTimers(uint64_t nowMs) {
  while (!timers_.empty() && timers_.begin()->first <= nowMs) {
    const auto [due, id] = *timers_.begin();
    timers_.erase(timers_.begin());
    auto it = items_.find(id);
    if (it == items_.end() || it->second.timerDue != due) continue;  // answered, or a newer timer
    Item& item = it->second;
    if (item.state == State::InFlight) {
      retryLater(id, item, nowMs);  // timed out
    } else if (item.state == State::Backoff) {
      item.state = State::Ready;
      peers_[item.peer].backoff.erase(id);
      peers_[item.peer].ready.insert(id);  // in add order with the rest: the oldest goes first
    }
  }
}

std::vector<NoticeOutbox::Send> NoticeOutbox::take(uint64_t nowMs) {
  fireTimers(nowMs);
  std::vector<Send> out;
  for (size_t index = 0; index < peers_.size(); ++index) {
    Peer& p = peers_[index];
    while (!p.ready.empty() && p.state.inFlight < limits_.maxInFlightPerPeer &&
           (p.backoff.empty() || *p.ready.begin() < *p.backoff.begin())) {
      const uint64_t id = *p.ready.begin();
      p.ready.erase(p.ready.begin());
      Item& item = items_.at(id);
      item.state = State::InFlight;
      item.reqId = nextReq_++;
      item.timerDue = nowMs + limits_.timeoutMs;
      timers_.emplace(item.timerDue, id);
      byReq_.emplace(item.reqId, id);
      ++p.state.inFlight;
      out.push_back(Send{index, item.reqId, &item.entry});
    }
  }
  return out;
}

std::optional<OutboxEntry> NoticeOutbox::delivered(uint64_t reqId) {
  auto req = byReq_.find(reqId);
  if (req == byReq_.end()) return std::nullopt;
  auto it = items_.find(req->second);
  byReq_.erase(req);
  Peer& p = peers_[it->second.peer];
  --p.state.inFlight;
  --p.state.waiting;
  p.state.failures = 0;
  OutboxEntry entry = std::move(it->second.entry);
  items_.erase(it);  // its timer goes stale
  return entry;
}

void NoticeOutbox::refused(uint64_t reqId, uint64_t nowMs) {
  auto req = byReq_.find(reqId);
  if (req == byReq_.end()) return;
  const uint64_t id = req->second;
  retryLater(id, items_.at(id), nowMs);
}

uint64_t NoticeOutbox::nextDueMs() const {
  for (const Peer& p : peers_) {
    if (!p.ready.empty() && p.state.inFlight < limits_.maxInFlightPerPeer &&
        (p.backoff.empty() || *p.ready.begin() < *p.backoff.begin())) {
      return 0;
    }
  }
  return timers_.empty() ? UINT64_MAX : timers_.begin()->first;
}

}  // namespace webim::hub
