#include "frontend/frontend.h"

#include <malloc.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <random>
#include <stdexcept>

#include "frontend/connection.h"
#include "frontend/drain.h"
#include "common/channel_rules.h"
#include "common/program/logging.h"
#include "common/topics.h"
#include "frontend/listen_address.h"

namespace webim {

namespace {
constexpr int kListenBacklog = 4096;
constexpr int kAcceptBatch = 256;  // connections accepted per wakeup of the listener
// Connections on admin_listen (scrapers, the app's /api calls), apart from max_connections.
constexpr uint64_t kMaxPrivateConnections = 4096;
constexpr uint64_t kAcceptPauseMs = 100;  // after an accept error that would repeat at once
constexpr uint32_t kTickMs = 50;                  // timer wheel resolution
constexpr uint64_t kRevocationRetryMs = 1000;

uint64_t randomBootId() {
  std::random_device device;
  uint64_t id = 0;
  while (id == 0) id = (uint64_t{device()} << 32) | device();
  return id;
}

InboxAttacher::Random attachJitter() {
  auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [engine] { return (*engine)(); };
}

}  // namespace

Frontend::Frontend(const FrontendConfig& config)
    : config_(config),
      wheel_((uv_loop_init(&loop_), uv_now(&loop_)), kTickMs),
      verifier_(config.secrets, kTokenLeewaySeconds, config.maxTokenLifetime),
      sessionIds_(config.secrets, kTokenLeewaySeconds, config.maxTokenLifetime),
      apiKeys_(config.apiKeys),
      readBuffer_(new char[kReadBufferBytes]),
      bootId_(randomBootId()),
      inboxes_(config.slotMap->shards().size(), InboxAttacher::Options{}, attachJitter()),
      revocations_(static_cast<int64_t>(config.maxTokenLifetime) * 1000) {
  wsLimits_.maxMessageBytes = config.maxMessageBytes;
  wsLimits_.maxFragments = config.maxFragments;
  handshakePolicy_.allowedOrigins = config.allowedOrigins;
  handshakePolicy_.allowMissingOrigin = config.allowMissingOrigin;
  handshakePolicy_.allowAnyOrigin = config.allowAnyOrigin;
  shutdownTimer_.frontend = this;
  inboxRetry_.frontend = this;
  inboxRetry_.fire = [](TimerNode* node) {
    Frontend* self = static_cast<InboxRetry*>(node)->frontend;
    uv_idle_start(&self->flushIdle_, [](uv_idle_t*) {});  // sent at the end of this iteration
  };
  const std::vector<Shard>& shards = config.slotMap->shards();
  // One context for every hub link, sized as one context per link was: an I/O thread per hub
  // (CURVE's encryption runs there) and room for each link's sockets (dealer, SUB, CURVE monitor).
  zmqContext_.set(zmq::ctxopt::io_threads, static_cast<int>(shards.size()));
  zmqContext_.set(zmq::ctxopt::max_sockets, std::max(1024, static_cast<int>(4 * shards.size() + 16)));
  for (size_t i = 0; i < shards.size(); ++i) {
    hubs_.push_back(std::make_unique<HubLink>(
        &loop_, zmqContext_, i, wheel_, config, bootId_, shards[i].hubIngress, shards[i].hubPub, shards[i].curveServerKey,
        [this](const wire::Delivery& d) { onSubDelivery(d); }, [this](const wire::Kick& k) { onKick(k); },
        [this, i](uint64_t boot) { onHubBoot(i, boot); }));
  }
  hubBootIds_.assign(shards.size(), 0);
  revocationsLoaded_.assign(shards.size(), false);
}

Frontend::~Frontend() {
  for (Connection* connection : destroyed_) delete connection;
  uv_loop_close(&loop_);
}

int64_t Frontend::wallSeconds() const noexcept {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int Frontend::run() {
  try {
    staticFiles_.load(config_.staticDirs);
    listen();
    listenPrivate();
    for (auto& hub : hubs_) hub->start();
  } catch (const std::exception& e) {
    spdlog::critical("cannot start: {}", e.what());
    return 1;
  }
  uv_signal_init(&loop_, &sigint_);
  uv_signal_init(&loop_, &sigterm_);
  uv_signal_init(&loop_, &sighup_);
  sigint_.data = sigterm_.data = sighup_.data = this;
  uv_signal_start(&sigint_, onSignal, SIGINT);
  uv_signal_start(&sigterm_, onSignal, SIGTERM);
  uv_signal_start(&sighup_, onSignal, SIGHUP);
  uv_timer_init(&loop_, &tick_);
  tick_.data = this;
  uv_timer_start(&tick_, onTick, kTickMs, kTickMs);
  uv_check_init(&loop_, &check_);
  check_.data = this;
  uv_check_start(&check_, onCheck);
  uv_idle_init(&loop_, &flushIdle_);
  flushIdle_.data = this;
  acceptStart_.frontend = this;
  acceptStart_.fire = [](TimerNode* node) {
    Frontend* self = static_cast<AcceptStart*>(node)->frontend;
    spdlog::warn("accepting connections before every hub's kick revocations are known (no answer in {} ms)",
                 self->config_.hubTimeoutMs);
    self->startAccepting();
  };
  wheel_.schedule(acceptStart_, uv_now(&loop_) + config_.hubTimeoutMs);

  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&bound), &length);
  spdlog::info("webim-frontend ready: id {} (process {}) listening on {} hub {} / {}", config_.id,
               formatEpoch(bootId_), formatAddress(reinterpret_cast<sockaddr*>(&bound)), config_.hubIngress,
               config_.hubPub);
  uv_run(&loop_, UV_RUN_DEFAULT);
  spdlog::info("webim-frontend {} stopped", config_.id);
  return 0;
}

void Frontend::listen() {
  // libuv 1.44 has no UV_TCP_REUSEPORT: make the socket ourselves so every frontend process can
  // bind the same port and the kernel spreads connections among them.
  int fd = openListeningSocket(config_.listen, true, kListenBacklog, "listen address " + config_.listen);
  listenFd_ = fd;
  sockets_.open(&loop_);
  reserveFd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  // Bound and listening now (connections wait in the kernel's queue), accepted once every hub's
  // kick revocations are known (startAccepting).
  int rc = uv_poll_init_socket(&loop_, &listener_, fd);
  listener_.data = this;
  if (rc != 0) throw std::runtime_error("cannot listen on " + config_.listen + ": " + uv_strerror(rc));
}

// A restarted frontend must not let a kicked user's old token in before it knows the kick: it
// accepts once every hub told it its revocations, or after hub_timeout_ms without them (logged).
void Frontend::startAccepting() {
  if (accepting_ || stopping_) return;
  accepting_ = true;
  wheel_.cancel(acceptStart_);
  uv_poll_start(&listener_, UV_READABLE, onAcceptable);
}

void Frontend::listenPrivate() {
  adminListener_.open(&loop_, config_.adminListen, [this](int fd) {
    // A cap of its own: browsers filling max_connections must not lock out the scraper and the app.
    Connection* connection = Connection::accept(*this, fd, true);
    if (connection != nullptr && metrics_.privateOpen > kMaxPrivateConnections) {
      metrics_.connectionsRefused++;
      connection->refuse();
    }
  });
  spdlog::info("private listener (/metrics /healthz /readyz /api) on {}", adminListener_.boundAddress());
}

std::string Frontend::notReadyReason() const {
  if (draining_ || stopping_) return "draining";
  if (!accepting_) return "starting: waiting for every hub's kick revocations";
  const uint64_t now = nowMs();
  for (const auto& hub : hubs_) {
    uint64_t last = hub->lastReplyMs();
    if (last == 0) return "hub " + hub->ingress() + ": no answer yet";
    // A dropped connection (the hub died: its socket closed) counts at once, not after hub_timeout_ms.
    if (uint64_t lost = hub->lostSinceMs(); lost != 0) {
      return "hub " + hub->ingress() + ": connection lost " + std::to_string(now >= lost ? now - lost : 0) + " ms ago";
    }
    if (now - last > config_.hubTimeoutMs) {
      return "hub " + hub->ingress() + ": no answer for " + std::to_string(now - last) + " ms (hub_timeout_ms " +
             std::to_string(config_.hubTimeoutMs) + ")";
    }
  }
  return {};
}

std::string Frontend::renderMetrics() const {
  size_t subscriptions = 0;
  for (const auto& hub : hubs_) subscriptions += hub->subscriptions();
  return metrics_.render(config_.id, stream_.size(), subscriptions);
}

void Frontend::onAcceptable(uv_poll_t* handle, int /*status*/, int /*events*/) {
  static_cast<Frontend*>(handle->data)->acceptPending();
}

bool Frontend::acceptPending() {
  // A bounded batch per wakeup; the poll is level-triggered and returns for the rest.
  for (int i = 0; i < kAcceptBatch && !stopping_; ++i) {
    int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      const int error = errno;
      if (error == EINTR || error == ECONNABORTED) continue;
      if (error == EAGAIN || error == EWOULDBLOCK) return true;
      metrics_.acceptErrors++;
      uint64_t now = uv_now(&loop_);
      if (now >= nextAcceptWarnMs_) {
        spdlog::warn("accept: {} (connections open: {})", strerror(error), metrics_.connectionsOpen);
        nextAcceptWarnMs_ = now + 1000;
      }
      if ((error == EMFILE || error == ENFILE) && reserveFd_ >= 0) {
        // Out of file descriptors: accept the connection with the reserve one and close it, so
        // the listener does not stay readable and spin the loop; the client sees a reset.
        ::close(reserveFd_);
        int dropped = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (dropped >= 0) ::close(dropped);
        reserveFd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (reserveFd_ >= 0) continue;
      }
      // ENOBUFS, ENOMEM, no reserve fd: the listener stays readable, so pause it a moment rather
      // than spin.
      uv_poll_stop(&listener_);
      acceptPause_.fire = [](TimerNode* node) {
        Frontend* self = static_cast<AcceptPause*>(node)->frontend;
        if (!self->stopping_) uv_poll_start(&self->listener_, UV_READABLE, onAcceptable);
      };
      acceptPause_.frontend = this;
      wheel_.schedule(acceptPause_, now + kAcceptPauseMs);
      return false;
    }
    Connection* connection = Connection::accept(*this, fd);
    if (connection != nullptr && metrics_.connectionsOpen - metrics_.privateOpen > config_.maxConnections) {
      metrics_.connectionsRefused++;
      connection->refuse();
    }
  }
  return false;
}

void Frontend::forgetConnection(Connection* connection, int fd) {
  sockets_.remove(connection, fd);
  destroyed_.push_back(connection);
  uv_idle_start(&flushIdle_, [](uv_idle_t*) {});  // freed in this iteration's check phase
  // Stopping, and every browser has answered the close: exit now rather than after the grace, so a
  // restart (stop, then start) keeps the clients waiting as little as possible. Connections on the
  // private listener (a scrape in progress) do not hold the exit.
  if (stopping_ && metrics_.connectionsOpen == metrics_.privateOpen && shutdownTimer_.scheduled()) {
    wheel_.schedule(shutdownTimer_, uv_now(&loop_));
  }
}

void Frontend::markDirty(Connection* connection) {
  if (connection->flushQueued()) return;
  connection->setFlushQueued(true);
  dirty_.push_back(connection);
  uv_idle_start(&flushIdle_, [](uv_idle_t*) {});  // an active idle handle makes poll non-blocking
}

uint32_t Frontend::appendPendingFrame(SharedFrame frame) {
  pendingFrames_.push_back({std::move(frame), UINT32_MAX});
  return static_cast<uint32_t>(pendingFrames_.size() - 1);
}

void Frontend::flushDirty() {
  flushInboxChanges();
  flushPresenceChanges();
  // A flush may queue more (a close frame); loop until nothing is left. Destroyed connections
  // are freed only after it, so the pointers stay valid.
  while (!dirty_.empty()) {
    std::vector<Connection*> batch;
    batch.swap(dirty_);
    for (Connection* connection : batch) connection->flush();
  }
  for (Connection* connection : destroyed_) delete connection;
  destroyed_.clear();
  if (deliveryStartNs_ != 0) {
    metrics_.deliveryFlush.observeNs(uv_hrtime() - deliveryStartNs_);
    deliveryStartNs_ = 0;
  }
  // Every connection with frames was dirty and is flushed: the frames are written or moved.
  pendingFrames_.clear();
  // Keep what an ordinary iteration needs; give back what a burst (a mass connect) took.
  constexpr size_t kKeepEntries = 4096;
  if (pendingFrames_.capacity() > kKeepEntries) std::vector<PendingFrame>().swap(pendingFrames_);
  if (writeScratch_.capacity() > kKeepEntries) std::vector<OutChunk>().swap(writeScratch_);
  if (dirty_.capacity() > kKeepEntries) std::vector<Connection*>().swap(dirty_);
  if (destroyed_.capacity() > kKeepEntries) std::vector<Connection*>().swap(destroyed_);
  uv_idle_stop(&flushIdle_);
}

void Frontend::onCheck(uv_check_t* handle) { static_cast<Frontend*>(handle->data)->flushDirty(); }

void Frontend::onTick(uv_timer_t* handle) {
  auto* self = static_cast<Frontend*>(handle->data);
  self->wheel_.advance(uv_now(&self->loop_));
  self->trimHeapAfterDrop();
}

// After many connections went away (a deploy, a network blip), hand the freed pages back to the
// kernel: glibc keeps them otherwise, and the next wave of connections would land elsewhere.
void Frontend::trimHeapAfterDrop() {
  uint64_t open = metrics_.connectionsOpen;
  peakConnections_ = std::max(peakConnections_, open);
  uint64_t now = uv_now(&loop_);
  if (peakConnections_ >= kTrimMinPeak && open * 2 < peakConnections_ && now >= nextTrimMs_) {
    malloc_trim(0);
    peakConnections_ = open;
    nextTrimMs_ = now + kTrimIntervalMs;
  }
}

// Asks a hub for the kicks it keeps; tried again every second until it answers.
Task Frontend::loadRevocations(size_t shard) {
  for (;;) {
    wire::FrontendRequest request;
    request.mutable_revocations()->set_since_ms(revocations_.windowStartMs(wallSeconds() * 1000));
    HubCall call(*hubs_[shard], fills_, request, nowMs() + config_.hubTimeoutMs);
    HubResult result = co_await call;
    if (result.status == WaitStatus::Cancelled) co_return;
    if (result.status == WaitStatus::Done && !result.reply.has_error()) {
      for (const wire::Revocation& r : result.reply.revocations().revocations()) {
        revocations_.note(r.user(), r.not_before_ms(), wallSeconds() * 1000);
      }
      if (!revocationsLoaded_[shard]) {
        revocationsLoaded_[shard] = true;
        if (std::all_of(revocationsLoaded_.begin(), revocationsLoaded_.end(), [](bool b) { return b; })) startAccepting();
      }
      co_return;
    }
    spdlog::warn("hub {}: cannot load its kick revocations ({}); retrying", hubs_[shard]->ingress(),
                 result.reply.has_error() ? result.reply.error().message() : std::string("no answer in time"));
    Sleep pause(fills_, wheel_, nowMs() + kRevocationRetryMs);
    if (co_await pause == WaitStatus::Cancelled) co_return;
  }
}

void Frontend::onKick(const wire::Kick& kick) {
  revocations_.note(kick.user(), kick.not_before_ms(), wallSeconds() * 1000);
  // Kicks are rare: a scan of the connections costs no memory per connection.
  size_t closed = 0;
  for (Connection* c : sockets_.all()) {
    if (c->user() == kick.user()) {
      c->close(static_cast<uint16_t>(kick.code()), kick.reason());
      ++closed;
    }
  }
  if (closed > 0) {
    logEvent(LogEvent::Kick, "kicked",
             {{"user", kick.user()}, {"connections", closed}, {"code", kick.code()}, {"reason", kick.reason()}});
  }
}

void Frontend::onSignal(uv_signal_t* handle, int signum) {
  auto* self = static_cast<Frontend*>(handle->data);
  if (signum == SIGHUP) {
    self->reload();
    return;
  }
  spdlog::info("signal {}: draining", signum);
  self->startDrain();
}

}  // namespace webim
