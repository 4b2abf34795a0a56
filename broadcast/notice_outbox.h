// The outbox of dm notices for inboxes on other shards (docs/architecture.md "Conversations"):
// which entries to send to which peer hub and when, retries and timeouts. Pure: no I/O, time is
// given. The entries are durable in the store (WriteSet::outbox, written with the dm message) before
// they are added here; an entry leaves once its peer acknowledged it (stored there), and the hub
// deletes its record (WriteSet::outboxDone).
//
//  - At most `maxInFlightPerPeer` sends per peer wait for an answer; the rest wait in order.
//  - An entry waiting out a backoff holds back the later entries of its peer (sent in add order, a
//    peer stores them in order: a hub just started, whose first sends fail, does not put notice 3
//    before 1 and 2).
//  - A send not answered within `timeoutMs`, or refused, is sent again after a backoff
//    (backoffMinMs doubling up to backoffMaxMs per attempt): at least once, never given up.
//  - At most `maxInMemory` entries are held; more stay in the store only (overflowed()), and the
//    hub reads them again once the outbox is empty.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <optional>
#include <unordered_map>
#include <vector>

#include "broadcast/history_store.h"

namespace webim::hub {

class NoticeOutbox {
 public:
  struct Limits {
    size_t maxInFlightPerPeer = 64;
    size_t maxInMemory = 65536;
    uint64_t timeoutMs = 5000;
    uint64_t backoffMinMs = 200;
    uint64_t backoffMaxMs = 10000;
  };
  struct Send {
    size_t peer = 0;
    uint64_t reqId = 0;
    const OutboxEntry* entry = nullptr;  // valid until the next call
  };
  struct PeerState {
    size_t waiting = 0;     // entries held for this peer (in flight included)
    size_t inFlight = 0;
    uint64_t failures = 0;  // timeouts and refusals since its last acknowledgement
  };

  NoticeOutbox(size_t peers, Limits limits);

  // A durable entry for `peer`. False when maxInMemory entries are held: it stays in the store only.
  bool add(size_t peer, OutboxEntry entry);
  // What to send now (first sends and retries), in order per peer, within each peer's limit.
  std::vector<Send> take(uint64_t nowMs);
  // The answer to `reqId`: stored by the peer (the entry, to delete from the store), or refused
  // (sent again after a backoff). nullopt for an id no longer waited for (answered after a timeout).
  std::optional<OutboxEntry> delivered(uint64_t reqId);
  void refused(uint64_t reqId, uint64_t nowMs);
  // When take() has something to do next: 0 now, UINT64_MAX never (nothing held).
  uint64_t nextDueMs() const;
  size_t size() const noexcept { return items_.size(); }
  bool overflowed() const noexcept { return overflowed_; }
  void clearOverflow() noexcept { overflowed_ = false; }
  const PeerState& peer(size_t index) const { return peers_[index].state; }
  size_t peers() const noexcept { return peers_.size(); }

 private:
  enum class State { Ready, InFlight, Backoff };
  struct Item {
    size_t peer = 0;
    OutboxEntry entry;
    State state = State::Ready;
    uint32_t attempts = 0;
    uint64_t reqId = 0;     // while in flight
    uint64_t timerDue = 0;  // the timer that counts for it (older ones in timers_ are stale)
  };
  struct Peer {
    std::set<uint64_t> ready;  // item ids: oldest first, retries included (ids follow add order)
    std::set<uint64_t> backoff;  // item ids waiting out a backoff: none newer is sent before them
    PeerState state;
  };
  void retryLater(uint64_t id, Item& item, uint64_t nowMs);
  void fireTimers(uint64_t nowMs);

  Limits limits_;
  std::vector<Peer> peers_;
  std::unordered_map<uint64_t, Item> items_;  // by item id
  std::unordered_map<uint64_t, uint64_t> byReq_;  // req id -> item id, while in flight
  std::multimap<uint64_t, uint64_t> timers_;      // due ms -> item id (timeouts and backoffs)
  uint64_t nextItem_ = 1;
  uint64_t nextReq_ = 1;
  bool overflowed_ = false;
};

}  // namespace webim::hub
