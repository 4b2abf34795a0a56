#include "broadcast/hub.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <stdexcept>
#include <zmq_addon.hpp>

#include "common/channel_rules.h"
#include "common/failpoint.h"
#include "common/json_codec.h"
#include "common/topics.h"
#include "proto/webim.pb.h"

namespace webim::hub {

namespace {

constexpr std::chrono::milliseconds kPollTimeout{250};  // bounds shutdown latency after a signal
constexpr int kLingerMs = 100;            // replies/publishes in flight at exit get this long
// A request past maxRequestBytes() is answered too_large; only one past this much more makes
// ZeroMQ drop the peer's connection (ZMQ_MAXMSGSIZE), so a frontend that sends too much by mistake
// gets an answer and keeps its link.
constexpr int64_t kHardCapSlack = 1 << 20;
constexpr auto kConflictLogInterval = std::chrono::seconds(10);
// Replies queued for one app peer that does not read them: ZeroMQ bounds a pipe in messages, so
// the bound in bytes is this many replies of at most an app history page each: 1024 x 64 KiB =
// 64 MiB (a page holds one message at least: max_data_bytes). A peer past it loses replies (it
// retries with the same cid); one that reads never comes near it: up to ~500 requests in flight
// fit (the pipe's count lags its reader by up to half the mark).
constexpr int kAppReplyQueue = 1024;
constexpr size_t kMaxAppPageBytes = 64 * 1024;  // app-ingress hist pages (`more` says there is more)
constexpr size_t kMaxPageBytes = 1 << 20; // docs/protocol.md: a history page is at most 1 MiB
constexpr int kSyncRounds = 1;     // syncs for a channel after its last write (never dropped: one is enough)
constexpr int kSyncAttempts = 30;  // rounds to try them in while a frontend's pipe is full
constexpr size_t kMaxSubscriptionDrain = 65536;  // per iteration, so requests are never starved
constexpr uint8_t kSubscribe = 1;
constexpr uint8_t kUnsubscribe = 0;

// A channel's epoch until it has a record: the first 8 bytes of HMAC-SHA256(store seed, name).
Sequencer::EpochSource derivedEpochs(HistoryStore& store) {
  auto seed = std::make_shared<const std::string>(store.epochSeed());
  return [seed](std::string_view channel) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), seed->data(), static_cast<int>(seed->size()), reinterpret_cast<const unsigned char*>(channel.data()),
         channel.size(), mac, &length);
    uint64_t epoch = 0;
    for (int i = 0; i < 8; ++i) epoch = epoch << 8 | mac[i];
    return epoch;
  };
}

bool validSender(const std::string& from) {
  return !from.empty() && from.size() <= kMaxSenderBytes && from.find('\0') == std::string::npos;
}

std::string endpointOf(const zmq::socket_t& s) { return s.get(zmq::sockopt::last_endpoint); }

}  // namespace

struct Hub::Request {
  enum class Kind { Error, Publish, AppHistory, FrontendHistory, Stats, Hello, Kick, Attach, Detach, Revocations };
  bool fromApp = false;        // answered with app JSON...
  bool appViaFrontend = false;  // ...wrapped in a HubReply to a frontend's HTTP API call
  std::vector<zmq::message_t> envelope;  // every frame before the body, echoed in the reply
  wire::Kick kick;  // Kind::Kick
  std::vector<std::string> users;  // Kind::Attach
  std::vector<ChannelMeta> positions;  // Kind::Attach: each inbox's position when it was read
  Kind kind = Kind::Error;
  std::string errorCode;
  std::string errorMessage;
  uint64_t reqId = 0;  // frontend requests only
  PublishOutcome outcome;
  std::string channel;
  uint64_t before = 0;
  uint64_t after = 0;
  uint32_t limit = 0;
  int64_t sinceMs = 0;  // Kind::Revocations
};

Hub::Hub(const HubConfig& config, HistoryStore& store, zmq::context_t& context)
    : config_(config),
      store_(store),
      app_(context, zmq::socket_type::router),
      frontend_(context, zmq::socket_type::router),
      pub_(context, zmq::socket_type::xpub),
      sequencer_(store, derivedEpochs(store), config.dedupTtl * 1000),
      appDecoder_(static_cast<size_t>(config.maxDataBytes)),
      started_(std::chrono::steady_clock::now()),
      frontends_(std::chrono::seconds(config.frontendTimeout)),
      retention_(store, retentionPolicy_, {std::chrono::seconds(config.retentionInterval)}) {
  configureSockets(context);
  storedChannelsAtStart_ = store_.countChannels();
  retentionPolicy_.parse(config_.retention);
  std::random_device random;
  while (bootId_ == 0) bootId_ = (uint64_t{random()} << 32) | random();
}

void Hub::configureSockets(zmq::context_t& context) {
  const int ingressHwm = static_cast<int>(config_.ingressHwm);
  for (zmq::socket_t* s : {&app_, &frontend_}) {
    s->set(zmq::sockopt::linger, kLingerMs);
    s->set(zmq::sockopt::sndhwm, ingressHwm);
    s->set(zmq::sockopt::rcvhwm, ingressHwm);
    // Up to maxRequestBytes() a request is answered (too_large beyond it); a peer sending far more
    // is disconnected.
    s->set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(maxRequestBytes()) + kHardCapSlack);
  }
  app_.set(zmq::sockopt::sndhwm, std::min(ingressHwm, kAppReplyQueue));
  // A reply to a connection that is gone fails (EHOSTUNREACH) instead of vanishing: that is how a
  // frontend id's old process is found dead (admitFrontend).
  frontend_.set(zmq::sockopt::router_mandatory, 1);
  pub_.set(zmq::sockopt::linger, kLingerMs);
  pub_.set(zmq::sockopt::sndhwm, static_cast<int>(config_.pubHwm));  // see HubConfig::pubHwm
  pub_.set(zmq::sockopt::rcvhwm, ingressHwm);  // subscription messages from frontends
  // Every subscribe reaches us (not only the first per topic), so each gets its own sync.
  pub_.set(zmq::sockopt::xpub_verbose, 1);
  if (!config_.curveSecretKey.empty()) {
    // Off loopback every socket speaks CURVE: encrypted, and clients know they reach this hub. The
    // ZAP handler, bound before any socket, admits on each only the client keys of its allow-list
    // (the ZAP domain names the socket).
    zap_ = std::make_unique<ZapServer>(context, config_.peerLists);
    const std::pair<zmq::socket_t*, std::string_view> sockets[] = {
        {&app_, kZapDomainApp}, {&frontend_, kZapDomainIngress}, {&pub_, kZapDomainPub}};
    for (auto [s, domain] : sockets) {
      s->set(zmq::sockopt::curve_server, 1);
      s->set(zmq::sockopt::curve_secretkey, config_.curveSecretKey);
      s->set(zmq::sockopt::zap_domain, std::string(domain));
    }
  }
}

void Hub::bindAppIngress() { bindPrivate(app_, config_.appIngress, true); }
void Hub::bindHubIngress() { bindPrivate(frontend_, config_.hubIngress, false); }
void Hub::bindHubPub() { bindPrivate(pub_, config_.hubPub, false); }

// An ipc:// socket file is what decides which local users may connect (connecting needs write
// permission on it): created mode 0600 whatever the umask, for the hub's user (and the frontends
// running as it), or 0660 for app_ingress_group. Abstract sockets (ipc://@) have no file.
void Hub::bindPrivate(zmq::socket_t& socket, const std::string& endpoint, bool appIngress) {
  if (endpoint.rfind("ipc://", 0) != 0 || endpoint.rfind("ipc://@", 0) == 0) {
    socket.bind(endpoint);
    return;
  }
  const mode_t old = ::umask(0177);  // no moment with a wider mode
  try {
    socket.bind(endpoint);
  } catch (...) {
    ::umask(old);
    throw;
  }
  ::umask(old);
  const std::string path = endpointOf(socket).substr(6);
  auto fail = [&path](const std::string& what) {
    return std::runtime_error(what + " " + path + ": " + std::strerror(errno));
  };
  const bool group = appIngress && !config_.appIngressGroup.empty();
  if (group) {
    if (::chown(path.c_str(), static_cast<uid_t>(-1), static_cast<gid_t>(config_.appIngressGid)) != 0) {
      throw std::runtime_error("cannot give " + path + " to group " + config_.appIngressGroup + ": " +
                               std::strerror(errno) + " (the hub's user must be a member of it)");
    }
    if (::chmod(path.c_str(), 0660) != 0) throw fail("chmod 0660");
  } else if (::chmod(path.c_str(), 0600) != 0) {
    throw fail("chmod 0600");
  }
  // Whoever may write to the directory could replace the socket with their own.
  const std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, std::max<size_t>(path.rfind('/'), 1));
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0 && (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0) {
    spdlog::warn("{}: the directory {} is writable by other users, who could replace the socket; use a directory "
                 "only the hub's user may write (e.g. RuntimeDirectory=webim)", endpoint, dir);
  }
}

// Between batches: answers the CURVE handshakes waiting for the ZAP handler, and rereads the
// allow-lists after a SIGHUP.
void Hub::servePeers() {
  if (reload_ != nullptr && *reload_ != 0) {
    *reload_ = 0;
    reloadPeerLists();
  }
  if (!zap_) return;
  zap_->serve();
  zap_->flushLog();
}

void Hub::reloadPeerLists() {
  if (!zap_) {
    spdlog::info("SIGHUP: nothing to reload (no CURVE)");
    return;
  }
  PeerLists lists;
  if (std::string error = loadPeerLists(config_, lists); !error.empty()) {
    spdlog::error("SIGHUP: keeping the previous allow-lists: {}", error);
    return;
  }
  spdlog::info("SIGHUP: allow-lists reloaded ({} frontend keys, {} app keys); connected peers stay connected",
               lists.frontends ? std::to_string(lists.frontends->size()) : std::string("any"),
               lists.apps ? std::to_string(lists.apps->size()) : std::string("any"));
  zap_->setLists(std::move(lists));
}

std::string Hub::boundEndpoints() const {
  return "app-ingress=" + endpointOf(app_) + " hub-ingress=" + endpointOf(frontend_) +
         " hub-pub=" + endpointOf(pub_);
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
  const size_t maxBatch = static_cast<size_t>(config_.maxBatch);
  std::vector<Request> batch;
  batch.reserve(maxBatch);
  bool appFirst = true;
  while (!*stop) {
    try {
      // While a retention pass runs, an idle hub does not wait: it works through the slices
      // (not during the sweeper's pause after a store error).
      zmq::poll(items.data(), items.size(), retention_.due(std::chrono::steady_clock::now()) ? std::chrono::milliseconds(0) : kPollTimeout);
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      throw;
    }
    // Keep going while there is work, one bounded batch (one group commit) at a time.
    while (!*stop) {
      servePeers();
      drainSubscriptions();
      if (std::chrono::steady_clock::now() >= nextSync_) syncWritten();
      if (std::chrono::steady_clock::now() >= nextRevocationTrim_) trimRevocations();
      if (std::chrono::steady_clock::now() >= nextEviction_) {
        // Channels unused for about channel_idle_timeout leave memory (between batches: no channel
        // of a batch in flight is evicted).
        sequencer_.evictIdle();
        nextEviction_ = std::chrono::steady_clock::now() + std::chrono::seconds(std::max<int64_t>(1, config_.channelIdleTimeout / 2));
      }
      if (retention_.due(std::chrono::steady_clock::now())) retentionStep();
      batch.clear();
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
  spdlog::info("webim-broadcast stopping: {} messages published", stats_.published);
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

void Hub::drainSubscriptions() {
  std::vector<std::string> toSync;
  for (size_t i = 0; i < kMaxSubscriptionDrain; ++i) {
    zmq::message_t msg;
    zmq::recv_result_t got;
    try {
      got = pub_.recv(msg, zmq::recv_flags::dontwait);
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) break;
      throw;
    }
    if (!got) break;
    if (msg.size() < 1) continue;
    const auto* bytes = static_cast<const uint8_t*>(msg.data());
    std::string topic(reinterpret_cast<const char*>(bytes + 1), msg.size() - 1);
    if (bytes[0] == kSubscribe) {
      ++stats_.subscribes;
      ++subscribers_[topic];
      if (topic.substr(0, kFrontendTopicPrefix.size()) == kFrontendTopicPrefix && topic.back() == '\0') {
        // A frontend (re)connected: our boot id tells it whether to attach its inboxes again.
        wire::Delivery boot;
        boot.set_sync(true);
        boot.set_epoch(bootId_);
        publish(topic.substr(0, topic.size() - 1), boot.SerializeAsString());
      } else if (!topic.empty() && topic.back() == '\0') {
        toSync.push_back(topic.substr(0, topic.size() - 1));
      }
    } else if (bytes[0] == kUnsubscribe) {
      ++stats_.unsubscribes;
      auto it = subscribers_.find(topic);
      if (it != subscribers_.end() && --it->second == 0) subscribers_.erase(it);
    }
  }
  if (!toSync.empty()) publishSyncs(toSync);
}

// Repeats sync{epoch, last} for the channels written since the last round (between batches, so
// the in-memory seq is durable and published): a frontend that lost the tail of a burst fills it.
// sync{epoch, last}: where a channel's stream stands (a Delivery with `sync` set, no data).
std::string Hub::syncMarker(const std::string& channel, const ChannelMeta& meta) {
  wire::Delivery sync;
  sync.set_channel(channel);
  sync.set_sync(true);
  sync.set_epoch(meta.epoch);
  sync.set_seq(meta.lastSeq);
  return sync.SerializeAsString();
}

void Hub::syncWritten() {
  nextSync_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(config_.syncIntervalMs);
  expireFrontends();
  // The sync after a channel's last write is what reveals a dropped tail to the frontends, so it
  // must not be dropped itself: it goes out whole to every subscribed frontend or not at all, and
  // is retried next round while a frontend's pipe is full.
  for (auto it = written_.begin(); it != written_.end();) {
    SyncsDue& due = it->second;
    std::optional<ChannelMeta> meta = sequencer_.channelState(it->first);
    if (!meta || publishRouted(it->first, syncMarker(it->first, *meta), /*whole=*/true)) {
      --due.rounds;
    } else {
      ++stats_.syncsDeferred;
    }
    if (due.rounds <= 0 || --due.attempts <= 0) {
      if (due.rounds > 0) spdlog::warn("channel {}: a frontend's pipe stayed full; its sync was not sent", it->first);
      it = written_.erase(it);
    } else {
      ++it;
    }
  }
}

// Answers subscribes with sync{epoch, last}. Called between batches only, so each channel's
// in-memory seq is its durable seq. The positions are read in one batch (a frontend that
// reconnects resubscribes thousands of topics at once); a channel never written is at (0, 0) and
// nothing is written for it: its epoch comes with its first message, which the frontends adopt.
void Hub::publishSyncs(const std::vector<std::string>& channels) {
  std::vector<std::string> owned;
  owned.reserve(channels.size());
  for (const std::string& channel : channels) {
    if (isValidChannelName(channel) && owns(channel)) owned.push_back(channel);  // another shard answers the rest
  }
  std::string error;
  std::optional<std::vector<ChannelMeta>> metas = sequencer_.positions(owned, error);
  if (!metas) {
    spdlog::warn("syncs for {} channels skipped: {}", owned.size(), error);
    return;  // the joining frontends ask on the request path, then answer `unavailable`
  }
  // These may be dropped at the HWM: a joiner that misses its sync asks on the request path. (Sent
  // without dropping and retried, the thousands a reconnecting frontend resubscribes at once kept
  // the pipe full round after round, and the periodic syncs behind them ran out of attempts.)
  for (size_t i = 0; i < owned.size(); ++i) publish(owned[i], syncMarker(owned[i], (*metas)[i]));
}

size_t Hub::receive(zmq::socket_ref socket, bool fromApp, std::vector<Request>& batch, size_t room) {
  size_t n = 0;
  while (n < room) {
    std::vector<zmq::message_t> frames;
    zmq::recv_result_t got;
    try {
      got = zmq::recv_multipart(socket, std::back_inserter(frames), zmq::recv_flags::dontwait);
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) break;
      throw;
    }
    if (!got) break;
    if (frames.size() < 2) continue;  // a ROUTER always prepends the peer identity
    Request& r = batch.emplace_back();
    r.fromApp = fromApp;
    zmq::message_t body = std::move(frames.back());
    frames.pop_back();
    r.envelope = std::move(frames);
    if (fromApp) {
      ++stats_.appRequests;
      decodeApp(r, body.to_string_view());
    } else {
      ++stats_.frontendRequests;
      decodeFrontend(r, body.to_string_view());
    }
    ++n;
  }
  return n;
}

void Hub::decodeApp(Request& r, std::string_view body, std::string_view impliedOp) {
  if (body.size() > maxRequestBytes()) {
    r.kind = Request::Kind::Error;
    r.errorCode = "too_large";
    r.errorMessage = "request of " + std::to_string(body.size()) + " bytes; this hub answers at most " +
                     std::to_string(maxRequestBytes());
    return;
  }
  AppRequest request;
  AppDecodeError error = appDecoder_.decode(body, request, impliedOp);
  if (!error.ok()) {
    r.kind = Request::Kind::Error;
    r.errorCode = error.code;
    r.errorMessage = error.message;
    return;
  }
  auto wrongShard = [&](const std::string& channel) {
    if (owns(channel)) return false;
    r.kind = Request::Kind::Error;
    r.errorCode = "wrong_shard";
    r.errorMessage = wrongShardMessage(channel);
    return true;
  };
  if (auto* pub = std::get_if<AppPublish>(&request)) {
    if (wrongShard(pub->channel)) return;
    r.kind = Request::Kind::Publish;
    r.outcome = sequencer_.sequence(
        PublishInput{std::move(pub->channel), std::move(pub->from), std::move(pub->cid),
                     std::move(pub->data)},
        nowMs());
  } else if (auto* hist = std::get_if<AppHistory>(&request)) {
    if (wrongShard(hist->channel)) return;
    r.kind = Request::Kind::AppHistory;
    r.channel = std::move(hist->channel);
    r.before = hist->before;
    r.after = hist->after;
    r.limit = hist->limit;
  } else if (auto* kick = std::get_if<AppKick>(&request)) {
    r.kick.set_user(std::move(kick->user));
    r.kick.set_code(kick->code);
    r.kick.set_reason(std::move(kick->reason));
    stageKick(r);
  } else {
    r.kind = Request::Kind::Stats;
  }
}

void Hub::decodeFrontend(Request& r, std::string_view body) {
  wire::FrontendRequest request;
  auto fail = [&r](std::string code, std::string message) {
    r.kind = Request::Kind::Error;
    r.errorCode = std::move(code);
    r.errorMessage = std::move(message);
  };
  if (!request.ParseFromArray(body.data(), static_cast<int>(body.size())))
    return fail("bad_request", "not a FrontendRequest");
  r.reqId = request.req_id();
  if (body.size() > maxRequestBytes()) {
    return fail("too_large", "request of " + std::to_string(body.size()) + " bytes; this hub answers at most " +
                                 std::to_string(maxRequestBytes()));
  }
  switch (request.body_case()) {
    case wire::FrontendRequest::kPublish: {
      wire::Publish* pub = request.mutable_publish();
      if (!isValidChannelName(pub->channel())) return fail("bad_request", "invalid channel name");
      if (!owns(pub->channel())) return fail("wrong_shard", wrongShardMessage(pub->channel()));
      if (!validSender(pub->from())) return fail("bad_request", "invalid from");
      if (pub->cid().size() > kMaxCidBytes) return fail("bad_request", "cid too long");
      if (pub->data().empty()) return fail("bad_request", "data is required");
      if (pub->data().size() > static_cast<size_t>(config_.maxDataBytes))
        return fail("too_large", "data too large");
      r.kind = Request::Kind::Publish;
      r.outcome = sequencer_.sequence(
          PublishInput{std::move(*pub->mutable_channel()), std::move(*pub->mutable_from()),
                       std::move(*pub->mutable_cid()), std::move(*pub->mutable_data())},
          nowMs());
      return;
    }
    case wire::FrontendRequest::kHistory: {
      const wire::History& h = request.history();
      if (!isValidChannelName(h.channel())) return fail("bad_request", "invalid channel name");
      if (!owns(h.channel())) return fail("wrong_shard", wrongShardMessage(h.channel()));
      if (h.before() != 0 && h.after() != 0) return fail("bad_request", "before and after both set");
      if (h.limit() > kMaxHistLimit) return fail("bad_request", "limit too large");
      r.kind = Request::Kind::FrontendHistory;
      r.channel = h.channel();
      r.before = h.before();
      r.after = h.after();
      r.limit = h.limit() == 0 ? kDefaultHistLimit : h.limit();
      return;
    }
    case wire::FrontendRequest::kHello: {
      const wire::Hello& hello = request.hello();
      if (hello.frontend_id().empty()) return fail("bad_request", "frontend_id is required");
      if (!admitFrontend(r, hello.frontend_id(), hello.boot_id())) return;
      r.kind = Request::Kind::Hello;
      return;
    }
    case wire::FrontendRequest::kKick: {
      const wire::Kick& kick = request.kick();
      if (kick.user().empty()) return fail("bad_request", "user is required");
      if (kick.code() < 4000 || kick.code() > 4999) return fail("bad_request", "code must be 4000..4999");
      if (kick.reason().size() > kMaxKickReasonBytes) return fail("bad_request", "reason is too long");
      r.kick = kick;
      stageKick(r);
      return;
    }
    case wire::FrontendRequest::kRevocations:
      r.kind = Request::Kind::Revocations;
      r.sinceMs = request.revocations().since_ms();
      return;
    case wire::FrontendRequest::kAttach: {
      const wire::Attach& attach = request.attach();
      if (attach.frontend_id().empty()) return fail("bad_request", "frontend_id is required");
      if (!admitFrontend(r, attach.frontend_id(), attach.boot_id())) return;
      std::vector<std::string> inboxes;
      inboxes.reserve(static_cast<size_t>(attach.users_size()));
      for (const std::string& user : attach.users()) {
        std::string inbox = std::string(kInboxPrefix) + user;
        if (!isValidChannelName(inbox)) return fail("bad_request", "invalid user id");
        if (!owns(inbox)) return fail("wrong_shard", wrongShardMessage(inbox));
        inboxes.push_back(std::move(inbox));
      }
      // One batched read; an inbox never written is at (0, 0) and nothing is written for it.
      std::string error;
      std::optional<std::vector<ChannelMeta>> positions = sequencer_.positions(inboxes, error);
      if (!positions) return fail("unavailable", error);
      r.positions = std::move(*positions);
      for (const std::string& user : attach.users()) {
        if (!inboxes_.attach(attach.frontend_id(), user)) {
          spdlog::warn("frontend {}: attach refused, {} frontends already hold inboxes (the most routed)",
                       attach.frontend_id(), InboxRouter::kMaxFrontends);
          return fail("unavailable", "too many frontends hold inboxes");
        }
      }
      r.kind = Request::Kind::Attach;
      r.users.assign(attach.users().begin(), attach.users().end());
      return;
    }
    case wire::FrontendRequest::kDetach: {
      const wire::Detach& detach = request.detach();
      r.kind = Request::Kind::Detach;  // no reply (req_id 0)
      // Only the admitted process of an id detaches its users (not a second one using the same id).
      if (!frontends_.owns(detach.frontend_id(), detach.boot_id())) return;
      for (const std::string& user : detach.users()) inboxes_.detach(detach.frontend_id(), user);
      return;
    }
    case wire::FrontendRequest::kApp:
      r.fromApp = true;
      r.appViaFrontend = true;
      return decodeApp(r, request.app().json(), request.app().op());
    default:
      return fail("bad_request", "empty request");
  }
}

void Hub::processBatch(std::vector<Request>& batch) {
  bool committed = true;
  if (sequencer_.hasPending()) {
    std::string error = commitPending();
    committed = error.empty();
    if (committed) {
      ++stats_.commits;
      if (failedCommitsInRow_ > 0)
        spdlog::info("group commits succeed again after {} failed", failedCommitsInRow_);
      failedCommitsInRow_ = 0;
    } else {
      ++stats_.commitFailures;
      // The store fails fast while it waits to retry: one log line per second, not per batch.
      const auto now = std::chrono::steady_clock::now();
      if (failedCommitsInRow_++ == 0 || now >= nextCommitErrorLog_) {
        spdlog::error("group commit of {} messages failed ({} in a row): {}", sequencer_.pending().messages.size(),
                      failedCommitsInRow_, error);
        nextCommitErrorLog_ = now + std::chrono::seconds(1);
      }
    }
  }
  // Replies first (acks only now that the batch is durable), then publishes.
  for (Request& r : batch) reply(r, committed);
  if (!committed) {
    sequencer_.commitFailed();
    return;
  }
  for (const StoredMessage& m : sequencer_.pending().messages) {
    wire::Delivery d;
    d.set_channel(m.channel);
    d.set_epoch(m.epoch);
    d.set_seq(m.seq);
    d.set_from(m.from);
    d.set_ts_ms(m.tsMs);
    d.set_data(m.data);
    publishRouted(m.channel, d.SerializeAsString());
    written_[m.channel] = {kSyncRounds, kSyncAttempts};
    ++stats_.published;
  }
  sequencer_.commitSucceeded();
}

void Hub::reply(Request& r, bool committed) {
  std::string code = r.errorCode, message = r.errorMessage;
  if (r.kind == Request::Kind::Publish) {
    const PublishOutcome& o = r.outcome;
    if (o.status == PublishStatus::BadRequest) {
      code = "bad_request";
      message = o.message;
    } else if (o.status == PublishStatus::Unavailable || (o.pending && !committed)) {
      code = "unavailable";
      message = o.status == PublishStatus::Unavailable ? o.message : "store write failed";
    } else if (o.status == PublishStatus::Duplicate) {
      ++stats_.duplicates;
    }
  }
  if ((r.kind == Request::Kind::Attach || r.kind == Request::Kind::Kick) && !committed) {
    // Attach: the epochs of inboxes created by this batch were not stored (the frontend attaches
    // again). Kick: its revocation was not stored (the app retries); nobody is closed meanwhile.
    code = "unavailable";
    message = "store write failed";
  }
  if (r.kind == Request::Kind::Error || !code.empty()) {
    if (code == "bad_request") ++stats_.badRequests;
    if (r.fromApp) {
      replyApp(r, encodeAppError(code, message));
    } else {
      wire::HubReply reply;
      reply.set_req_id(r.reqId);
      reply.mutable_error()->set_code(code);
      reply.mutable_error()->set_message(message);
      send(frontend_, r.envelope, reply.SerializeAsString());
    }
    return;
  }
  switch (r.kind) {
    case Request::Kind::Publish:
      if (r.fromApp) {
        replyApp(r, encodePublishOk(r.outcome.epoch, r.outcome.seq));
      } else {
        wire::HubReply reply;
        reply.set_req_id(r.reqId);
        reply.mutable_publish_ack()->set_epoch(r.outcome.epoch);
        reply.mutable_publish_ack()->set_seq(r.outcome.seq);
        send(frontend_, r.envelope, reply.SerializeAsString());
      }
      return;
    case Request::Kind::AppHistory:
      return replyAppHistory(r);
    case Request::Kind::FrontendHistory:
      return replyFrontendHistory(r);
    case Request::Kind::Stats:
      replyApp(r, encodeStatsOk(snapshotStats()));
      return;
    case Request::Kind::Kick:
      // Every frontend subscribes the control topic and closes that user's connections.
      publish(std::string(kKickControl), r.kick.SerializeAsString());
      ++stats_.kicks;
      if (r.fromApp) {
        replyApp(r, encodeAppOk());
      } else {
        wire::HubReply reply;
        reply.set_req_id(r.reqId);
        send(frontend_, r.envelope, reply.SerializeAsString());
      }
      return;
    case Request::Kind::Attach: {
      // After the commit: the positions a frontend's joining inbox subscribers start from.
      wire::HubReply reply;
      reply.set_req_id(r.reqId);
      wire::AttachAck* ack = reply.mutable_attached();
      for (size_t i = 0; i < r.users.size(); ++i) {
        const std::string& user = r.users[i];
        // Written in this batch (or loaded): the state in memory; else the position read at decode.
        std::optional<ChannelMeta> meta = sequencer_.channelState(std::string(kInboxPrefix) + user);
        if (!meta && i < r.positions.size()) meta = r.positions[i];
        wire::InboxState* state = ack->add_inboxes();
        state->set_user(user);
        state->set_epoch(meta ? meta->epoch : 0);
        state->set_last_seq(meta ? meta->lastSeq : 0);
      }
      send(frontend_, r.envelope, reply.SerializeAsString());
      return;
    }
    case Request::Kind::Hello:
      if (r.reqId != 0) {
        wire::HubReply reply;
        reply.set_req_id(r.reqId);
        wire::HubInfo* info = reply.mutable_hub_info();
        info->set_boot_id(bootId_);
        info->set_max_data_bytes(static_cast<uint64_t>(config_.maxDataBytes));
        info->set_max_request_bytes(maxRequestBytes());
        send(frontend_, r.envelope, reply.SerializeAsString());
      }
      return;
    case Request::Kind::Detach:
      return;
    case Request::Kind::Revocations: {
      wire::HubReply reply;
      reply.set_req_id(r.reqId);
      try {
        wire::RevocationList* list = reply.mutable_revocations();
        for (Revocation& rev : store_.loadRevocations(std::max(r.sinceMs, nowMs() - config_.revocationTtl * 1000))) {
          wire::Revocation* out = list->add_revocations();
          out->set_user(std::move(rev.user));
          out->set_not_before_ms(rev.notBeforeMs);
        }
      } catch (const HistoryStoreError& e) {
        reply.clear_revocations();
        reply.mutable_error()->set_code("unavailable");
        reply.mutable_error()->set_message(e.what());
      }
      send(frontend_, r.envelope, reply.SerializeAsString());
      return;
    }
    case Request::Kind::Error:
      return;
  }
}

void Hub::replyApp(Request& r, const std::string& json) {
  if (!r.appViaFrontend) {
    send(app_, r.envelope, json);
    return;
  }
  wire::HubReply reply;
  reply.set_req_id(r.reqId);
  reply.set_app_json(json);
  send(frontend_, r.envelope, reply.SerializeAsString());
}

// One page of r's channel; a channel never written reports the epoch its first message will carry.
HistoryPage Hub::readHistory(const Request& r, size_t maxBytes) {
  HistoryPage page = store_.readPage(r.channel, {r.before, r.after, r.limit, maxBytes});
  if (page.epoch == 0) page.epoch = sequencer_.epochFor(r.channel);
  return page;
}

void Hub::replyAppHistory(Request& r) {
  try {
    replyApp(r, encodeHistoryOk(readHistory(r, kMaxAppPageBytes)));
  } catch (const HistoryStoreError& e) {
    replyApp(r, encodeAppError("unavailable", e.what()));
  }
}

void Hub::replyFrontendHistory(Request& r) {
  wire::HubReply reply;
  reply.set_req_id(r.reqId);
  try {
    HistoryPage page = readHistory(r, kMaxPageBytes);
    wire::HistoryPage* out = reply.mutable_history();
    out->set_epoch(page.epoch);
    out->set_last_seq(page.lastSeq);
    out->set_more(page.more);
    for (StoredMessage& m : page.msgs) {
      wire::Delivery* d = out->add_msgs();
      d->set_channel(std::move(m.channel));
      d->set_epoch(m.epoch);
      d->set_seq(m.seq);
      d->set_from(std::move(m.from));
      d->set_ts_ms(m.tsMs);
      d->set_data(std::move(m.data));
    }
  } catch (const HistoryStoreError& e) {
    reply.clear_history();
    reply.mutable_error()->set_code("unavailable");
    reply.mutable_error()->set_message(e.what());
  }
  send(frontend_, r.envelope, reply.SerializeAsString());
}

// A frame that failed with EINTR was not consumed, so it is retried as is; giving up halfway
// would leave a partial multipart message that the next send would complete with wrong frames.
// False when the socket refused the frame (EAGAIN: only an XPUB with ZMQ_XPUB_NODROP does).
// A ROUTER with ZMQ_ROUTER_MANDATORY refuses a frame for a peer that is gone (EHOSTUNREACH): false.
template <typename Frame>
bool sendFrame(zmq::socket_ref socket, Frame&& frame, zmq::send_flags flags) {
  for (;;) {
    try {
      return socket.send(std::forward<Frame>(frame), flags | zmq::send_flags::dontwait).has_value();
    } catch (const zmq::error_t& e) {
      if (e.num() == EHOSTUNREACH) return false;
      if (e.num() != EINTR) throw;
    }
  }
}

// ROUTER replies to a peer that is gone, or past its HWM, are dropped by ZeroMQ: the client
// retries with the same cid and gets the same result.
void Hub::send(zmq::socket_ref socket, std::vector<zmq::message_t>& envelope, const std::string& body) {
  // A refused routing frame sends nothing: the rest must not follow (it would be read as a route).
  for (zmq::message_t& frame : envelope) {
    if (!sendFrame(socket, frame, zmq::send_flags::sndmore)) return;
  }
  sendFrame(socket, zmq::buffer(body), zmq::send_flags::none);
}

// Inbox messages go once to each frontend holding the user, on its own topic; everything else on
// the channel's topic (ZeroMQ filters by subscription). True when every send was queued (always,
// unless `whole`; see publish).
bool Hub::publishRouted(const std::string& channel, const std::string& payload, bool whole) {
  if (!isInboxChannel(channel)) return publish(channel, payload, whole);
  bool all = true;
  inboxes_.forEachHolder(channel.substr(kInboxPrefix.size()), [&](std::string_view frontend) {
    all = publish(frontendControl(frontend), payload, whole) && all;
  });
  return all;
}

bool Hub::owns(const std::string& channel) const {
  return !config_.slotMap || config_.slotMap->shardOf(channel) == config_.shardIndex;
}

std::string Hub::wrongShardMessage(const std::string& channel) const {
  const SlotMap& map = *config_.slotMap;
  return "channel " + channel + " (slot " + std::to_string(slotOf(channel)) + ") belongs to shard " +
         map.shards()[map.shardOf(channel)].name + ", not " + config_.shard;
}

void Hub::expireFrontends() {
  for (const std::string& id : frontends_.expire(std::chrono::steady_clock::now())) {
    spdlog::info("frontend {} gone (no hello for {} s): forgetting its inboxes", id, config_.frontendTimeout);
    inboxes_.forgetFrontend(id);
  }
}

// A kick is stored (a revocation in this batch's commit) before it is answered and published: the
// user's tokens and sids issued until now are refused by every frontend from then on.
void Hub::stageKick(Request& r) {
  r.kind = Request::Kind::Kick;
  r.kick.set_not_before_ms(nowMs());
  sequencer_.stage(Revocation{r.kick.user(), r.kick.not_before_ms()});
}

void Hub::trimRevocations() {
  nextRevocationTrim_ = std::chrono::steady_clock::now() + std::chrono::hours(1);
  try {
    store_.trimRevocations(nowMs() - config_.revocationTtl * 1000);
  } catch (const HistoryStoreError& e) {
    spdlog::warn("trimming kick revocations: {} (tried again in an hour)", e.what());
  }
}

std::string Hub::commitPending() {
  if (failpoint("hub.commit")) return "failpoint hub.commit";
  try {
    store_.commit(sequencer_.pending(), config_.sync);
  } catch (const HistoryStoreError& e) {
    return e.what();
  }
  return {};
}

// Hello, attach and detach name the frontend and its process (boot id): one process per id
// (FrontendRegistry). False, with the request failed as `conflict`, for a second live process.
bool Hub::admitFrontend(Request& r, const std::string& id, uint64_t boot) {
  const std::string routingId = r.envelope.empty() ? std::string() : r.envelope.front().to_string();
  const auto now = std::chrono::steady_clock::now();
  const FrontendRegistry::Admission admission =
      frontends_.admit(id, boot, routingId, now, [&](std::string_view old) { return probeFrontend(old, id, boot); });
  switch (admission) {
    case FrontendRegistry::Admission::New:
      spdlog::info("frontend {} connected (process {:016x})", id, boot);
      return true;
    case FrontendRegistry::Admission::Known:
      return true;
    case FrontendRegistry::Admission::Replaced:
      // A restart of that instance: the new process attaches what it holds itself.
      spdlog::info("frontend {} restarted (process {:016x}): forgetting the inboxes of its previous process", id, boot);
      inboxes_.forgetFrontend(id);
      return true;
    case FrontendRegistry::Admission::Conflict:
      break;
  }
  if (now >= nextConflictLog_) {
    spdlog::error("two running frontends use the id {}: refusing process {:016x} (process {:016x} keeps the id and "
                  "its inboxes); give each frontend its own --id",
                  id, boot, frontends_.find(id)->boot);
    nextConflictLog_ = now + kConflictLogInterval;
  }
  r.kind = Request::Kind::Error;
  r.errorCode = "conflict";
  r.errorMessage = "frontend id " + id + " is in use by another running process; give each frontend its own --id";
  return false;
}

// Whether the connection `routingId` (the process that holds frontend `id`) is still open: a notice
// is sent to it (that process logs it). A connection that is gone refuses it (ZMQ_ROUTER_MANDATORY).
bool Hub::probeFrontend(std::string_view routingId, const std::string& id, uint64_t newBoot) {
  wire::HubReply notice;
  notice.set_req_id(0);
  notice.mutable_error()->set_code("conflict");
  notice.mutable_error()->set_message("another process (" + formatEpoch(newBoot) + ") started with this frontend's id " +
                                      id + "; the hub refuses it and keeps this one; give each frontend its own --id");
  const std::string body = notice.SerializeAsString();
  try {
    if (!frontend_.send(zmq::buffer(routingId), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      return true;  // its pipe is full: connected
    }
    frontend_.send(zmq::buffer(body), zmq::send_flags::dontwait);
    return true;
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH) return false;
    spdlog::warn("probing frontend {}: {}", id, e.what());
    return true;  // unknown: keep the one we have
  }
}

// [channel '\0'][payload]. XPUB drops (never blocks) for a subscriber past its HWM, and the
// frontend refills the gap from history. `whole`: ZMQ_XPUB_NODROP is set just for this send, so the
// message is queued to every matching pipe or, if one of them is at its HWM, to none (false)
// instead of being dropped for that one.
bool Hub::publish(const std::string& channel, const std::string& payload, bool whole) {
  std::string topic = channel;
  topic.push_back('\0');
  if (whole) pub_.set(zmq::sockopt::xpub_nodrop, 1);
  // A refused first frame leaves nothing half-sent; the rest of a message the pipes took follows.
  bool sent = sendFrame(pub_, zmq::buffer(topic), zmq::send_flags::sndmore);
  if (sent) sendFrame(pub_, zmq::buffer(payload), zmq::send_flags::none);
  if (whole) pub_.set(zmq::sockopt::xpub_nodrop, 0);
  return sent;
}

HubStats Hub::snapshotStats() {
  const auto now = std::chrono::steady_clock::now();
  expireFrontends();
  HubStats s = stats_;
  s.channels = storedChannelsAtStart_ + sequencer_.createdChannels();
  s.frontends = frontends_.size();
  s.inboxUsers = inboxes_.users();
  s.channelsInMemory = sequencer_.channelsInMemory();
  s.uptimeS = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(now - started_).count());
  s.subscribedTopics = subscribers_.size();
  if (zap_) {
    s.authAdmitted = zap_->admitted();
    s.authRefused = zap_->refused();
  }
  return s;
}

}  // namespace webim::hub
