#include "broadcast/hub.h"

#include <spdlog/spdlog.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <random>

#include "common/big_endian.h"
#include "common/channel_rules.h"
#include "common/failpoint.h"

namespace webim::hub {

namespace {

constexpr std::chrono::milliseconds kPollTimeout{250};  // bounds shutdown latency after a signal

}  // namespace

// A channel's epoch until it has a record: the first 8 bytes of HMAC-SHA256(store seed, name); a
// generational channel's (delivery_mode.h), always: HMAC-SHA256(store seed, name '\0' generation) (run_marker.h).
uint64_t Hub::epochFor(std::string_view channel) const {
  // A copy only for generational channels: the others (every never-written inbox of an attach
  // storm, say) are hashed as they are.
  std::string generational;
  std::string_view input = channel;
  if (modes_.generational(channel)) {
    generational.assign(channel).push_back('\0');  // never in a channel name
    for (int shift = 56; shift >= 0; shift -= 8) generational.push_back(static_cast<char>(fastGeneration_ >> shift));
    input = generational;
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), epochSeed_.data(), static_cast<int>(epochSeed_.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &length);
  return loadBigEndian<uint64_t>(mac);
}

Hub::Hub(const HubConfig& config, HistoryStore& store, zmq::context_t& context)
    : config_(config),
      store_(store),
      context_(context),
      app_(context, zmq::socket_type::router),
      frontend_(context, zmq::socket_type::router),
      pub_(context, zmq::socket_type::xpub),
      epochSeed_(store.epochSeed()),
      sequencer_(store, [this](std::string_view channel) { return epochFor(channel); }, config.dedupTtl * 1000),
      decoder_(static_cast<size_t>(config.maxDataBytes), maxRequestBytes(),
               ShardScope{config.slotMap, config.shardIndex, config.shard}),
      started_(std::chrono::steady_clock::now()),
      frontends_(std::chrono::seconds(config.frontendTimeout)),
      settling_(0, static_cast<uint64_t>(config.presenceSettleMs), static_cast<uint64_t>(config.presenceSettleMaxMs)),
      grace_(static_cast<uint64_t>(config.presenceGraceMs)),
      publisher_(pub_, inboxes_),
      retention_(store, retentionPolicy_, {std::chrono::seconds(config.retentionInterval)}) {
  configureSockets(context);
  storedChannelsAtStart_ = store_.countChannels();
  retentionPolicy_.parse(config_.retention);
  modes_.parse(config_.fastNamespaces);
  presenceNamespaces_.parse(config_.presenceNamespaces);
  sequencer_.setModes([this](std::string_view channel) { return modes_.fast(channel); },
                      [this](std::string_view channel) { return modes_.generational(channel); });
  // Trims never count from (or cut into) a batch whose sync is pending.
  retention_.setDurablePositions([this](const std::string& channel) { return sequencer_.durableState(channel); });
  startSyncWorker();
  startOutbox();
  std::random_device random;
  while (bootId_ == 0) bootId_ = (uint64_t{random()} << 32) | random();
}

int64_t Hub::nowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void Hub::run(const volatile std::sig_atomic_t* stop) {
  std::vector<zmq::pollitem_t> items = {{app_.handle(), 0, ZMQ_POLLIN, 0},
                                        {frontend_.handle(), 0, ZMQ_POLLIN, 0},
                                        {pub_.handle(), 0, ZMQ_POLLIN, 0}};
  if (zap_) items.push_back({zap_->socket().handle(), 0, ZMQ_POLLIN, 0});
  if (syncer_) items.push_back({nullptr, syncer_->fd(), ZMQ_POLLIN, 0});
  if (metricsServer_) items.push_back({metricsServer_->socket().handle(), 0, ZMQ_POLLIN, 0});
  addPeerPollItems(items);  // the outbox's answers (hub_outbox.cpp)
  const size_t maxBatch = static_cast<size_t>(config_.maxBatch);
  std::vector<Request> batch;
  batch.reserve(maxBatch);
  bool appFirst = true;
  while (!*stop) {
    try {
      // While a retention pass runs or forgotten frontends' users are walked, an idle hub does not
      // wait: it works through the slices (not during the sweeper's pause after a store error).
      const bool sliced = retention_.due(std::chrono::steady_clock::now()) || inboxes_.forgetting() || eraseDue();
      // A presence event or grace due sooner than the poll's timeout ends the wait then. (No
      // deadline is UINT64_MAX: the difference must not become a negative, i.e. endless, timeout.)
      const uint64_t presenceDue = presence_.nextDeadlineMs();
      const uint64_t now = steadyMs();
      const auto wait = presenceDue <= now ? std::chrono::milliseconds(0)
                        : presenceDue - now < static_cast<uint64_t>(kPollTimeout.count())
                            ? std::chrono::milliseconds(presenceDue - now)
                            : kPollTimeout;
      zmq::poll(items.data(), items.size(), sliced ? std::chrono::milliseconds(0) : outboxWait(wait));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      throw;
    }
    // Keep going while there is work, one bounded batch (one group commit) at a time.
    while (!*stop) {
      // At most kMaxInFlight batches (more with fast namespaces: inFlightFull) wait for their
      // sync; what arrives meanwhile makes the next batch (a group commit of its own).
      if (inFlightFull()) waitForOldest();
      completeDurable();
      housekeeping();
      batch.clear();
      attachUsersInBatch_ = 0;
      // Alternate which ingress goes first so neither can starve the other.
      zmq::socket_ref first = appFirst ? zmq::socket_ref(app_) : zmq::socket_ref(frontend_);
      zmq::socket_ref second = appFirst ? zmq::socket_ref(frontend_) : zmq::socket_ref(app_);
      size_t n = receive(first, appFirst, batch, std::max<size_t>(1, maxBatch / 2));
      n += receive(second, !appFirst, batch, maxBatch - n);
      if (n < maxBatch) n += receive(first, appFirst, batch, maxBatch - n);
      appFirst = !appFirst;
      if (batch.empty()) break;
      processBatch(batch);
    }
  }
  drainInFlight();
  endRun();
  spdlog::info("webim-broadcast stopping: {} messages published", stats_.published);
}

// Between batches (batches may be in flight: what is told to others is durable positions only).
void Hub::housekeeping() {
  servePeers();
  outboxStep();
  serveMetrics();
  drainSubscriptions();
  if (std::chrono::steady_clock::now() >= nextSync_) syncWritten();
  if (std::chrono::steady_clock::now() >= nextRevocationTrim_) trimRevocations();
  if (std::chrono::steady_clock::now() >= nextEviction_) {
    // Channels unused for about channel_idle_timeout leave memory.
    sequencer_.evictIdle();
    nextEviction_ = std::chrono::steady_clock::now() + std::chrono::seconds(std::max<int64_t>(1, config_.channelIdleTimeout / 2));
  }
  if (retention_.due(std::chrono::steady_clock::now())) retentionStep();
  presenceStep();
  // A restarted or silent frontend's users, a slice at a time (~2 ms; a million users in ~25).
  if (inboxes_.forgetting()) {
    inboxes_.forgetStep(kForgetSlots);
    stageLastSeen();  // written with the next batch (a hello comes every heartbeat_ms)
  }
  watchHousekeeping();
  if (eraseDue()) eraseStep();  // erase_user jobs: one slice
}

// One retention slice between batches (a few channels, bounded deletions each): never a stall.
void Hub::retentionStep() {
  const uint64_t passes = retention_.passes();
  try {
    retention_.step(std::chrono::steady_clock::now(), nowMs());
  } catch (const HistoryStoreError& e) {
    spdlog::warn("retention: {} (resumes with the next slice)", e.what());
    return;
  }
  if (retention_.passes() != passes)
    spdlog::debug("retention pass: {} channels, {} messages deleted", retention_.lastPass().channels,
                  retention_.lastPass().deleted);
}

// Repeats sync{epoch, last} for the channels written since the last round: a frontend that lost
// the tail of a burst fills it.
void Hub::syncWritten() {
  nextSync_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(config_.syncIntervalMs);
  expireFrontends();
  stats_.syncsDeferred +=
      publisher_.syncWritten([this](const std::string& channel) { return sequencer_.channelState(channel); });
}

// Answers subscribes with sync{epoch, last}: durable positions (Sequencer::positions), never a
// seq still in flight. The positions are read in one batch (a frontend that
// reconnects resubscribes thousands of topics at once); a channel never written is at its derived
// epoch (Sequencer::epochFor), seq 0, and nothing is written for it: its first message continues it.
// A channel written lately also gets its syncs after writes again (SyncSchedule::subscribed): a
// frontend that reconnected missed what went out before its subscription arrived.
void Hub::publishSyncs(const std::vector<std::string>& channels) {
  std::vector<std::string> owned;
  owned.reserve(channels.size());
  for (const std::string& channel : channels) {
    if (!isValidChannelName(channel) || !decoder_.scope().owns(channel)) continue;  // another shard answers the rest
    owned.push_back(channel);
    publisher_.subscribed(channel);
  }
  if (failpoint("hub.drop_subscribe_syncs")) return;  // as if the HWM dropped them all
  std::string error;
  std::optional<std::vector<ChannelMeta>> metas = sequencer_.positions(owned, error);
  if (!metas) {
    spdlog::warn("syncs for {} channels skipped: {}", owned.size(), error);
    return;  // the joining frontends ask on the request path, then answer `unavailable`
  }
  // These may be dropped at the HWM: a joiner that misses its sync asks on the request path. (Sent
  // without dropping and retried, the thousands a reconnecting frontend resubscribes at once kept
  // the pipe full round after round, and the periodic syncs behind them ran out of attempts.)
  publisher_.publishSyncs(owned, *metas);
}

void Hub::trimRevocations() {
  nextRevocationTrim_ = std::chrono::steady_clock::now() + std::chrono::hours(1);
  try {
    store_.trimRevocations(nowMs() - config_.revocationTtl * 1000);
  } catch (const HistoryStoreError& e) {
    spdlog::warn("trimming kick revocations: {} (tried again in an hour)", e.what());
  }
}

}  // namespace webim::hub
