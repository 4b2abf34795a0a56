// Steps (b) and (c) across batches: the pipelined group commit (docs/architecture.md "Pipelined
// group commit"). A staged batch is written to the store on the loop thread, then waits in flight
// for its sync (SyncWorker) while the next batches are received, decoded, sequenced and written.
// Batches complete in order once durable: replies (acks only now), then publishes. A failed sync
// fails every batch in flight (nothing past the durable seq is ever acked or published); the store
// undoes them before it serves again.
//
// Fast namespaces (delivery_mode.h) publish a batch's messages once it is written; their acks
// still wait for the sync. A failed sync after such a publish, and a start after an unclean stop,
// move every fast channel to a new epoch (run_marker.h).
#include <openssl/rand.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>
#include <thread>

#include "broadcast/hub.h"
#include "broadcast/run_marker.h"
#include "common/failpoint.h"

namespace webim::hub {

namespace {

uint64_t randomGeneration() {
  uint64_t generation = 0;
  while (generation == 0) {
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&generation), sizeof generation) != 1) {
      throw HistoryStoreError("no randomness for the fast epochs' generation");
    }
  }
  return generation;
}

uint64_t elapsedNs(std::chrono::steady_clock::time_point since) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - since).count());
}

// A crash at a named point (tests: WEBIM_FAILPOINTS=hub.crash_after_write=1), as kill -9 would.
void crashAt(std::string_view point) {
  if (!failpoint(point)) return;
  spdlog::warn("failpoint {}: killing the hub", point);
  std::raise(SIGKILL);
}

}  // namespace

// When the loop starts (after the sockets are bound: a start that fails before serving anything
// leaves the marker as it was). The run marker says whether the last run stopped cleanly: after an
// unclean stop every generational channel starts a new epoch (its subscribers may have seen
// messages the crash lost). "running" is stored (synced) before anything is served, with every
// namespace ever published early (delivery_mode.h).
void Hub::beginRun() {
  const std::string name = runMarkerName(config_.shard);
  const RunStart start = startRun(store_.loadValue(name), randomGeneration());
  fastGeneration_ = start.generation;
  modes_.settle(syncer_ != nullptr, start.namespaces);
  store_.storeValue(name, runMarker(false, fastGeneration_, modes_.generationalNamespaces()));
  if (modes_.anyFast() && !syncer_) spdlog::info("fast_namespaces: nothing is published before its sync here (no sync step): all durable");
  if (start.unclean && modes_.anyGenerational()) {
    spdlog::warn("the last run did not stop cleanly: channels of the namespaces ever delivered fast ({}) start new epochs",
                 fmt::join(modes_.generationalNamespaces(), ", "));
  }
  for (const std::string& ns : modes_.fastNamespaces()) {
    if (std::find(start.namespaces.begin(), start.namespaces.end(), ns) == start.namespaces.end()) {
      spdlog::info("namespace {} is delivered fast from now on: its channels start new epochs (once)", ns);
    }
  }
  loadEraseJobs();  // erase_user jobs a previous run left unfinished (hub_erase.cpp)
}

// Everything is durable (the loop drained): the next start keeps the generation, unless fast
// messages were lost in this run.
void Hub::endRun() {
  if (fastLost_) return;
  try {
    store_.storeValue(runMarkerName(config_.shard), runMarker(true, fastGeneration_, modes_.generationalNamespaces()));
  } catch (const HistoryStoreError& e) {
    spdlog::warn("storing the clean-stop marker: {} (the next start counts this stop as unclean)", e.what());
  }
}

void Hub::rollBackSequencer() {
  std::vector<std::string> shownLost = sequencer_.commitFailed();
  if (!shownLost.empty()) newFastGeneration(shownLost);
}

void Hub::newFastGeneration(const std::vector<std::string>& shownLost) {
  fastGeneration_ = randomGeneration();
  fastLost_ = true;
  sequencer_.rebaseEpochs();
  for (const std::string& channel : shownLost) publisher_.syncDue(channel);
  spdlog::warn("a failed sync lost published messages of {} channel(s) (e.g. {}): channels of the namespaces ever delivered fast ({}) start new epochs",
               shownLost.size(), shownLost.front(), fmt::join(modes_.generationalNamespaces(), ", "));
}

void Hub::startSyncWorker() {
  // Without sync there is nothing to wait for; a store that does not pipeline commits in one call.
  if (!config_.sync || !store_.pipelined()) return;
  syncer_ = std::make_unique<SyncWorker>([this] { syncStore(); });
}

// On the sync thread, or on the loop when it syncs a lone batch itself.
void Hub::syncStore() {
  // Tests: a slow disk (each sync takes 300 ms more); a sync that fails.
  if (failpoint("hub.slow_sync")) std::this_thread::sleep_for(std::chrono::milliseconds(300));
  if (failpoint("hub.sync_fails")) throw HistoryStoreError("failpoint hub.sync_fails");
  const auto start = std::chrono::steady_clock::now();
  store_.sync();
  metrics_.fsync.observeNs(elapsedNs(start));
}

// A lone batch (nothing else in flight, no request waiting) is synced on the loop itself: handing
// it to the sync thread and back costs two thread wakeups and nothing overlaps anyway (measured
// with one publisher: half the throughput and a p99 of ~4 ms against ~0.4 ms).
// Not with fast namespaces: a sync on the loop would hold every later batch, and so their fast
// deliveries, behind a slow disk.
bool Hub::syncInline() const {
  if (inFlight_.size() != 1 || modes_.anyFast()) return false;
  const auto waiting = [](const zmq::socket_t& s) { return (s.get(zmq::sockopt::events) & ZMQ_POLLIN) != 0; };
  return !waiting(app_) && !waiting(frontend_);
}

// Stage every request in arrival order, write the batch, and let it wait in flight for its sync.
void Hub::processBatch(std::vector<Request>& batch) {
  // A kick's revocation takes effect wherever it is readable (a frontend's Revocations request), so
  // its batch is never left written but unsynced: it is committed whole (write and sync in one
  // call, which leaves nothing readable when the sync fails) with nothing in flight. Kicks are rare.
  // So is a batch with an edit or delete (hub_edits.cpp): its targets are read with nothing in
  // flight, and its redactions never need undoing.
  const bool whole = !syncer_ || std::any_of(batch.begin(), batch.end(), [](const Request& r) {
    return std::holds_alternative<KickRequest>(r.request) || isEditOrDelete(r.request);
  });
  if (whole) drainInFlight();
  ++metrics_.batches;
  stageReads(batch);  // one positions read and one cursor MultiGet for the batch's reads
  for (Request& r : batch) stage(r);
  const auto writeStart = std::chrono::steady_clock::now();
  const bool wrote = sequencer_.hasPending();
  if (!writeBatch(whole)) {
    drainInFlight();  // the batches before this one complete (or fail) first, in order
    for (Request& r : batch) reply(r, false);
    rollBackSequencer();
    return;
  }
  sequencer_.seal();
  InFlight& flight = inFlight_.emplace_back(InFlight{std::move(batch), writtenTicket_, wrote});
  flight.writeStart = writeStart;
  if (modes_.anyFast()) {  // only the fast pipeline is bounded in bytes (inFlightFull)
    for (const StoredMessage& m : sequencer_.batchesInFlight().back().messages) flight.bytes += pageBytes(m);
    inFlightBytes_ += flight.bytes;
  }
  if (wrote && !whole) {
    crashAt("hub.crash_after_write");  // written, not yet synced
    const bool onLoop = syncInline();
    if (!onLoop) syncer_->request(flight.ticket);  // first: the publishes below overlap the sync
    if (modes_.anyFast()) {
      // Fast namespaces: out now, before the sync (the acks wait for it).
      stats_.published += publisher_.publishMessages(sequencer_.batchesInFlight().back().messages,
                                                     [this](const StoredMessage& m) { return modes_.fast(m.channel); });
      flight.fastPublished = true;
    }
    if (onLoop) {
      try {
        syncStore();
        durableTicket_ = flight.ticket;
      } catch (const HistoryStoreError& e) {
        failInFlight(e.what());  // the sync thread is idle: nothing else is in flight
        return;
      }
    }
  }
  completeDurable();
}

// The store write of the current batch, or its whole commit (written and synced in one call). True
// when it is written (or there was nothing to write).
bool Hub::writeBatch(bool whole) {
  if (!sequencer_.hasPending()) return true;
  try {
    if (failpoint("hub.commit")) throw HistoryStoreError("failpoint hub.commit");
    if (whole) {
      store_.commit(sequencer_.pending(), config_.sync);
    } else {
      store_.write(sequencer_.pending());
      ++writtenTicket_;
    }
    return true;
  } catch (const HistoryStoreError& e) {
    commitFailedLog(sequencer_.pending().messages.size(), e.what());
    return false;
  }
}

// Completes, in order, the batches in flight that are durable now; fails them all when a sync
// failed. Never blocks.
void Hub::completeDurable() {
  while (!inFlight_.empty()) {
    if (inFlight_.front().ticket > durableTicket_) {
      if (!syncer_ || !takeSyncResult(syncer_->take())) return;
      if (inFlight_.empty() || inFlight_.front().ticket > durableTicket_) return;
    }
    completeOldest();
  }
}

// Blocks until the oldest batch in flight completes (or every one fails).
void Hub::waitForOldest() {
  if (inFlight_.empty()) return;
  if (inFlight_.front().ticket > durableTicket_ && syncer_) takeSyncResult(syncer_->wait(durableTicket_));
  completeDurable();
}

void Hub::drainInFlight() {
  while (!inFlight_.empty()) waitForOldest();
}

// False when a sync failed: what was durable before it completes, every other batch in flight fails.
bool Hub::takeSyncResult(const SyncWorker::Result& result) {
  durableTicket_ = std::max(durableTicket_, result.durable);
  if (result.failed == 0) return true;
  while (!inFlight_.empty() && inFlight_.front().ticket <= durableTicket_) completeOldest();
  failInFlight(result.error);
  return false;
}

void Hub::completeOldest() {
  InFlight flight = std::move(inFlight_.front());
  inFlight_.pop_front();
  inFlightBytes_ -= flight.bytes;
  if (flight.wrote) {
    if (syncer_) crashAt("hub.crash_after_sync");  // durable, not yet acked
    ++stats_.commits;
    metrics_.commit.observeNs(elapsedNs(flight.writeStart));
    if (failedCommitsInRow_ > 0) spdlog::info("group commits succeed again after {} failed", failedCommitsInRow_);
    failedCommitsInRow_ = 0;
  }
  const WriteSet done = sequencer_.commitSucceeded();
  outboxCommitted(done.outbox);  // durable: their notices may go (hub_outbox.cpp)
  for (Request& r : flight.requests) reply(r, true);
  publishBatch(flight.requests, done.messages, flight.fastPublished);
}

// A sync failed: the batches written since the last good one are of unknown outcome. The store
// undoes them (after the sync thread is idle); every request that needed them is `unavailable`.
void Hub::failInFlight(const std::string& error) {
  syncer_->waitIdle();    // the failure was taken: a sync asked for meanwhile runs, then nothing
  (void)syncer_->take();  // its batches fail with the others
  durableTicket_ = writtenTicket_;
  size_t messages = 0;
  for (const WriteSet& batch : sequencer_.batchesInFlight()) {
    store_.abandon(batch);
    messages += batch.messages.size();
  }
  commitFailedLog(messages, error);
  rollBackSequencer();
  std::deque<InFlight> failed;
  failed.swap(inFlight_);
  inFlightBytes_ = 0;
  for (InFlight& flight : failed) {
    for (Request& r : flight.requests) reply(r, false);
  }
}

void Hub::commitFailedLog(size_t messages, const std::string& error) {
  ++stats_.commitFailures;
  // The store fails fast while it waits to retry: one log line per second, not per batch.
  const auto now = std::chrono::steady_clock::now();
  if (failedCommitsInRow_++ == 0 || now >= nextCommitErrorLog_) {
    spdlog::error("group commit of {} messages failed ({} in a row): {}", messages, failedCommitsInRow_, error);
    nextCommitErrorLog_ = now + std::chrono::seconds(1);
  }
}

// After the replies of a durable batch: its kicks (their revocations are stored), then its
// messages in sequencing order (but those of fast namespaces, when they went out once written).
void Hub::publishBatch(const std::vector<Request>& batch, const std::vector<StoredMessage>& messages, bool fastPublished) {
  for (const Request& r : batch) {
    if (const auto* kick = std::get_if<KickRequest>(&r.request)) {
      publisher_.publishKick(kick->user, kick->code, kick->reason, r.kickNotBeforeMs);
      ++stats_.kicks;
    }
  }
  publishReceipts(batch);
  for (const StoredMessage& m : messages) metrics_.namespaces.published(m.channel, m.data.size());
  if (!fastPublished) {
    publisher_.publishMessages(messages);
    stats_.published += messages.size();
  } else {
    stats_.published += publisher_.publishMessages(messages, [this](const StoredMessage& m) { return !modes_.fast(m.channel); });
  }
}

}  // namespace webim::hub
