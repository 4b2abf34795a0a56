#include "frontend/frontend.h"

#include <malloc.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "frontend/connection.h"
#include "common/topics.h"
#include "frontend/listen_address.h"

namespace webim {

namespace {
constexpr int kListenBacklog = 4096;
constexpr uint32_t kTickMs = 50;                  // timer wheel resolution
constexpr uintmax_t kMaxStaticFileBytes = 4 << 20;  // the demo page's files are small

std::string contentTypeFor(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".json") return "application/json";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".ico") return "image/x-icon";
  if (ext == ".txt" || ext == ".md") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}
}  // namespace

Frontend::Frontend(const FrontendConfig& config)
    : config_(config),
      wheel_((uv_loop_init(&loop_), uv_now(&loop_)), kTickMs),
      verifier_(config.secrets),
      sessionIds_(config.secrets),
      apiKeys_(config.apiKeys),
      readBuffer_(new char[kReadBufferBytes]) {
  wsLimits_.maxMessageBytes = config.maxMessageBytes;
  wsLimits_.maxFragments = config.maxFragments;
  handshakePolicy_.allowedOrigins = config.allowedOrigins;
  handshakePolicy_.allowMissingOrigin = config.allowMissingOrigin;
  handshakePolicy_.allowAnyOrigin = config.allowAnyOrigin;
  shutdownTimer_.frontend = this;
  const std::vector<Shard>& shards = config.slotMap->shards();
  for (size_t i = 0; i < shards.size(); ++i) {
    hubs_.push_back(std::make_unique<HubLink>(
        &loop_, wheel_, config, shards[i].hubIngress, shards[i].hubPub, shards[i].curveServerKey,
        [this](const wire::Delivery& d) { onDelivery(d); }, [this](const wire::Kick& k) { onKick(k); },
        [this, i](uint64_t boot) { onHubBoot(i, boot); }));
  }
  hubBootIds_.assign(shards.size(), 0);
}

Frontend::~Frontend() { uv_loop_close(&loop_); }

int64_t Frontend::wallSeconds() const noexcept {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int Frontend::run() {
  try {
    loadStaticFiles();
    listen();
    for (auto& hub : hubs_) hub->start();
  } catch (const std::exception& e) {
    spdlog::critical("cannot start: {}", e.what());
    return 1;
  }
  uv_signal_init(&loop_, &sigint_);
  uv_signal_init(&loop_, &sigterm_);
  sigint_.data = sigterm_.data = this;
  uv_signal_start(&sigint_, onSignal, SIGINT);
  uv_signal_start(&sigterm_, onSignal, SIGTERM);
  uv_timer_init(&loop_, &tick_);
  tick_.data = this;
  uv_timer_start(&tick_, onTick, kTickMs, kTickMs);
  uv_check_init(&loop_, &check_);
  check_.data = this;
  uv_check_start(&check_, onCheck);
  uv_idle_init(&loop_, &flushIdle_);
  flushIdle_.data = this;

  sockaddr_storage bound{};
  int length = sizeof(bound);
  uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &length);
  spdlog::info("webim-frontend ready: id {} listening on {} hub {} / {}", config_.id,
               formatAddress(reinterpret_cast<sockaddr*>(&bound)), config_.hubIngress, config_.hubPub);
  uv_run(&loop_, UV_RUN_DEFAULT);
  spdlog::info("webim-frontend {} stopped", config_.id);
  return 0;
}

void Frontend::listen() {
  std::optional<ListenAddress> address = parseListenAddress(config_.listen);
  if (!address) throw std::runtime_error("bad listen address " + config_.listen);
  // libuv 1.44 has no UV_TCP_REUSEPORT: make the socket ourselves so every frontend process can
  // bind the same port and the kernel spreads connections among them.
  int fd = ::socket(address->storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + strerror(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
      ::bind(fd, reinterpret_cast<const sockaddr*>(&address->storage), address->length) != 0) {
    std::string why = strerror(errno);
    ::close(fd);
    throw std::runtime_error("cannot listen on " + config_.listen + ": " + why);
  }
  uv_tcp_init(&loop_, &listener_);
  listener_.data = this;
  int rc = uv_tcp_open(&listener_, fd);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), kListenBacklog, onAccept);
  if (rc != 0) throw std::runtime_error("cannot listen on " + config_.listen + ": " + uv_strerror(rc));
}

void Frontend::loadStaticFiles() {
  namespace fs = std::filesystem;
  for (const std::string& mount : config_.staticDirs) {
    std::string prefix = "/";
    std::string dir = mount;
    if (size_t eq = mount.find('='); !mount.empty() && mount[0] == '/' && eq != std::string::npos) {
      prefix = mount.substr(0, eq);
      dir = mount.substr(eq + 1);
      if (prefix.back() != '/') prefix.push_back('/');
    }
    fs::path root(dir);
    if (!fs::is_directory(root)) throw std::runtime_error("--static-dir '" + dir + "' is not a directory");
    size_t count = 0;
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
      if (!entry.is_regular_file() || entry.file_size() > kMaxStaticFileBytes) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      std::ostringstream body;
      body << in.rdbuf();
      std::string url = prefix + fs::relative(entry.path(), root).generic_string();
      staticFiles_[url] = StaticFile{contentTypeFor(entry.path()), body.str()};
      ++count;
    }
    spdlog::info("serving {} static files from {} at {}", count, dir, prefix);
  }
}

const StaticFile* Frontend::staticFile(std::string_view path) const {
  if (!path.empty() && path.back() == '/') {
    auto index = staticFiles_.find(std::string(path) + "index.html");
    return index == staticFiles_.end() ? nullptr : &index->second;
  }
  auto it = staticFiles_.find(path);
  return it == staticFiles_.end() ? nullptr : &it->second;
}

std::string Frontend::renderMetrics() const {
  size_t subscriptions = 0;
  for (const auto& hub : hubs_) subscriptions += hub->subscriptions();
  return metrics_.render(config_.id, channels_.size(), subscriptions);
}

std::string Frontend::nextConnectionId() { return config_.id + "-" + std::to_string(++connectionCounter_); }

std::shared_ptr<const Grants> Frontend::internGrants(std::vector<std::string> subscribe,
                                                     std::vector<std::string> publish) {
  std::string key;
  for (const std::string& p : subscribe) key.append(p).push_back('\n');
  key.push_back('\0');  // patterns never contain NUL or newlines (channel-name characters and '*')
  for (const std::string& p : publish) key.append(p).push_back('\n');
  auto it = grants_.find(key);
  if (it != grants_.end()) {
    if (std::shared_ptr<const Grants> shared = it->second.lock()) return shared;
  }
  auto shared = std::make_shared<const Grants>(Grants{std::move(subscribe), std::move(publish)});
  grants_[key] = shared;
  if (grants_.size() >= grantsPruneAt_) {  // drop sets no connection uses any more
    std::erase_if(grants_, [](const auto& entry) { return entry.second.expired(); });
    grantsPruneAt_ = std::max<size_t>(64, grants_.size() * 2);
  }
  return shared;
}

void Frontend::onAccept(uv_stream_t* server, int status) {
  auto* self = static_cast<Frontend*>(server->data);
  if (status < 0) {
    // EMFILE/ENFILE: libuv already accepted and closed the pending connection with its reserve
    // fd, so we do not spin; say so at most once a second.
    uint64_t now = uv_now(&self->loop_);
    if (now >= self->nextAcceptWarnMs_) {
      spdlog::warn("accept: {} (connections open: {})", uv_strerror(status), self->metrics_.connectionsOpen);
      self->nextAcceptWarnMs_ = now + 1000;
    }
    self->metrics_.acceptErrors++;
    return;
  }
  if (self->stopping_) return;
  Connection* connection = Connection::accept(*self, server);
  if (connection != nullptr && self->metrics_.connectionsOpen > self->config_.maxConnections) {
    self->metrics_.connectionsRefused++;
    connection->refuse();
  }
}

void Frontend::link(Connection* connection) {
  connection->prevInList = nullptr;
  connection->nextInList = connections_;
  if (connections_ != nullptr) connections_->prevInList = connection;
  connections_ = connection;
}

void Frontend::unlink(Connection* connection) {
  if (connection->prevInList != nullptr) {
    connection->prevInList->nextInList = connection->nextInList;
  } else if (connections_ == connection) {
    connections_ = connection->nextInList;
  }
  if (connection->nextInList != nullptr) connection->nextInList->prevInList = connection->prevInList;
  connection->prevInList = connection->nextInList = nullptr;
}

void Frontend::markDirty(Connection* connection) {
  if (connection->flushQueued) return;
  connection->flushQueued = true;
  dirty_.push_back(connection);
  uv_idle_start(&flushIdle_, [](uv_idle_t*) {});  // an active idle handle makes poll non-blocking
}

uint32_t Frontend::appendPendingFrame(SharedFrame frame) {
  pendingFrames_.push_back({std::move(frame), UINT32_MAX});
  return static_cast<uint32_t>(pendingFrames_.size() - 1);
}

void Frontend::flushDirty() {
  flushInboxChanges();
  // A flush may queue more (a close frame); loop until nothing is left. Connections are freed
  // only in close callbacks, which run after this check phase, so the pointers stay valid.
  while (!dirty_.empty()) {
    std::vector<Connection*> batch;
    batch.swap(dirty_);
    for (Connection* connection : batch) connection->flush();
  }
  // Every connection with frames was dirty and is flushed: the frames are written or moved.
  pendingFrames_.clear();
  // Keep what an ordinary iteration needs; give back what a burst (a mass connect) took.
  constexpr size_t kKeepEntries = 4096;
  if (pendingFrames_.capacity() > kKeepEntries) std::vector<PendingFrame>().swap(pendingFrames_);
  if (writeScratch_.capacity() > kKeepEntries) std::vector<OutChunk>().swap(writeScratch_);
  if (dirty_.capacity() > kKeepEntries) std::vector<Connection*>().swap(dirty_);
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

Channel* Frontend::acquireChannel(std::string_view name) {
  auto [channel, created] = channels_.acquire(name);
  if (created) {
    if (isInboxChannel(name)) {
      toAttach_.emplace_back(name.substr(kInboxPrefix.size()));
      uv_idle_start(&flushIdle_, [](uv_idle_t*) {});  // sent at the end of this iteration
    } else {
      hubFor(name).subscribe(name);
    }
  }
  return channel;
}

void Frontend::leaveChannel(Channel* channel, Connection* connection) {
  std::string name = channel->name;
  if (!channels_.remove(channel, connection)) return;
  if (isInboxChannel(name)) {
    toDetach_.emplace_back(name.substr(kInboxPrefix.size()));
  } else {
    hubFor(name).unsubscribe(name);
  }
}

void Frontend::onHubBoot(size_t shard, uint64_t bootId) {
  if (bootId == hubBootIds_[shard]) return;
  if (hubBootIds_[shard] != 0) {
    spdlog::info("hub {} restarted: attaching its inboxes again", config_.slotMap->shards()[shard].name);
  }
  hubBootIds_[shard] = bootId;
  channels_.forEach([this, shard](Channel* channel) {
    if (isInboxChannel(channel->name) && config_.slotMap->shardOf(channel->name) == shard) {
      toAttach_.push_back(channel->name.substr(kInboxPrefix.size()));
    }
  });
}

void Frontend::flushInboxChanges() {
  const size_t shardCount = hubs_.size();
  if (!toDetach_.empty()) {
    std::vector<wire::FrontendRequest> requests(shardCount);
    for (std::string& user : toDetach_) {
      size_t shard = config_.slotMap->shardOf(std::string(kInboxPrefix) + user);
      wire::Detach* detach = requests[shard].mutable_detach();
      detach->set_frontend_id(config_.id);
      detach->add_users(std::move(user));
    }
    for (size_t i = 0; i < shardCount; ++i) {
      if (requests[i].has_detach()) hubs_[i]->post(requests[i]);
    }
    toDetach_.clear();
  }
  if (!toAttach_.empty()) {
    std::vector<std::vector<std::string>> byShard(shardCount);
    for (std::string& user : toAttach_) {
      byShard[config_.slotMap->shardOf(std::string(kInboxPrefix) + user)].push_back(std::move(user));
    }
    toAttach_.clear();
    for (size_t i = 0; i < shardCount; ++i) {
      if (!byShard[i].empty()) attachInboxes(i, std::move(byShard[i]));
    }
  }
}

Task Frontend::attachInboxes(size_t shard, std::vector<std::string> users) {
  wire::FrontendRequest request;
  wire::Attach* attach = request.mutable_attach();
  attach->set_frontend_id(config_.id);
  for (const std::string& user : users) attach->add_users(user);
  HubCall call(*hubs_[shard], fills_, request, nowMs() + config_.hubTimeoutMs);
  HubResult result = co_await call;
  if (result.status == WaitStatus::Cancelled) co_return;
  if (result.status != WaitStatus::Done || result.reply.has_error()) {
    // Joining subscribers fall back to asking for the position; the attach is retried when the
    // hub's boot sync arrives (it restarted) or by the next subscriber of these inboxes.
    spdlog::warn("attaching {} inboxes failed: {}", users.size(),
                 result.reply.has_error() ? result.reply.error().message() : "no answer in time");
    if (result.status != WaitStatus::Done) metrics_.hubTimeouts++;
    co_return;
  }
  for (const wire::InboxState& state : result.reply.attached().inboxes()) {
    Channel* channel = channels_.find(std::string(kInboxPrefix) + state.user());
    if (channel == nullptr) continue;
    if (!channel->live) {
      goLive(channel, state.epoch(), state.last_seq());
    } else if (state.epoch() != channel->epoch) {
      resyncChannel(channel, state.epoch(), state.last_seq());
    } else if (state.last_seq() > channel->lastSeq) {
      metrics_.gaps++;
      startFill(channel, state.last_seq());  // published while we were not attached
    }
  }
}

void Frontend::onKick(const wire::Kick& kick) {
  // Kicks are rare: a scan of the connections costs no memory per connection.
  size_t closed = 0;
  for (Connection* c = connections_; c != nullptr;) {
    Connection* next = c->nextInList;
    if (c->user() == kick.user()) {
      c->close(static_cast<uint16_t>(kick.code()), kick.reason());
      ++closed;
    }
    c = next;
  }
  if (closed > 0) spdlog::info("kicked {} ({} connections, code {})", kick.user(), closed, kick.code());
}

void Frontend::onSignal(uv_signal_t* handle, int signum) {
  auto* self = static_cast<Frontend*>(handle->data);
  spdlog::info("signal {}: shutting down", signum);
  self->shutdown();
}

void Frontend::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  // Tell WebSocket clients to come back after a jittered delay (1012); they reconnect elsewhere.
  for (Connection* c = connections_; c != nullptr;) {
    Connection* next = c->nextInList;
    c->close(1012, "service restart");
    c = next;
  }
  shutdownTimer_.fire = [](TimerNode* node) {
    Frontend* self = static_cast<ShutdownTimer*>(node)->frontend;
    while (self->connections_ != nullptr) self->connections_->destroy();
    for (auto& hub : self->hubs_) hub->close();
    uv_close(reinterpret_cast<uv_handle_t*>(&self->sigint_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&self->sigterm_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&self->tick_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&self->check_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&self->flushIdle_), nullptr);
  };
  // Give the close frames a moment to go out (bounded by the close timeout).
  uint64_t grace = connections_ == nullptr ? 0 : std::min<uint64_t>(config_.closeTimeoutMs, 1000);
  wheel_.schedule(shutdownTimer_, uv_now(&loop_) + grace);
}

}  // namespace webim
