#include "broadcast/hub.h"

#include <spdlog/spdlog.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <stdexcept>
#include <zmq_addon.hpp>

#include "broadcast/delivery.h"
#include "broadcast/zmq_send.h"
#include "common/channel_rules.h"
#include "common/failpoint.h"
#include "common/json_codec.h"
#include "common/topics.h"

namespace webim::hub {

namespace {

constexpr std::chrono::milliseconds kPollTimeout{250};  // bounds shutdown latency after a signal

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

constexpr int kLingerMs = 100;            // replies/publishes in flight at exit get this long
// A request past maxRequestBytes() is answered too_large; only one past this much more makes
// ZeroMQ drop the peer's connection (ZMQ_MAXMSGSIZE), so a frontend that sends too much by mistake
// gets an answer and keeps its link.
constexpr int64_t kHardCapSlack = 1 << 20;
// Replies queued for one app peer that does not read them: ZeroMQ bounds a pipe in messages, so
// the bound in bytes is this many replies of at most an app history page each: 1024 x 64 KiB =
// 64 MiB (a page holds one message at least: max_data_bytes). A peer past it loses replies (it
// retries with the same cid); one that reads never comes near it: up to ~500 requests in flight
// fit (the pipe's count lags its reader by up to half the mark).
constexpr int kAppReplyQueue = 1024;
constexpr size_t kMaxSubscriptionDrain = 65536;  // per iteration, so requests are never starved
constexpr uint8_t kSubscribe = 1;
constexpr uint8_t kUnsubscribe = 0;

std::string endpointOf(const zmq::socket_t& s) { return s.get(zmq::sockopt::last_endpoint); }

constexpr auto kConflictLogInterval = std::chrono::seconds(10);

constexpr size_t kMaxAppPageBytes = 64 * 1024;  // app-ingress hist pages (`more` says there is more)
constexpr size_t kMaxPageBytes = 1 << 20;       // docs/protocol.md: a history page is at most 1 MiB

}  // namespace

Hub::Hub(const HubConfig& config, HistoryStore& store, zmq::context_t& context)
    : config_(config),
      store_(store),
      app_(context, zmq::socket_type::router),
      frontend_(context, zmq::socket_type::router),
      pub_(context, zmq::socket_type::xpub),
      sequencer_(store, derivedEpochs(store), config.dedupTtl * 1000),
      decoder_(static_cast<size_t>(config.maxDataBytes), maxRequestBytes(),
               ShardScope{config.slotMap, config.shardIndex, config.shard}),
      started_(std::chrono::steady_clock::now()),
      frontends_(std::chrono::seconds(config.frontendTimeout)),
      publisher_(pub_, inboxes_),
      retention_(store, retentionPolicy_, {std::chrono::seconds(config.retentionInterval)}) {
  configureSockets(context);
  storedChannelsAtStart_ = store_.countChannels();
  retentionPolicy_.parse(config_.retention);
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
      housekeeping();
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

// Between batches, so every channel's in-memory seq is its durable seq and nothing of a batch is
// in flight.
void Hub::housekeeping() {
  servePeers();
  drainSubscriptions();
  if (std::chrono::steady_clock::now() >= nextSync_) syncWritten();
  if (std::chrono::steady_clock::now() >= nextRevocationTrim_) trimRevocations();
  if (std::chrono::steady_clock::now() >= nextEviction_) {
    // Channels unused for about channel_idle_timeout leave memory.
    sequencer_.evictIdle();
    nextEviction_ = std::chrono::steady_clock::now() + std::chrono::seconds(std::max<int64_t>(1, config_.channelIdleTimeout / 2));
  }
  if (retention_.due(std::chrono::steady_clock::now())) retentionStep();
}

// Steps (b) and (c) for a decoded batch: stage every request in arrival order, one group commit,
// then the replies (acks only now that the batch is durable), then the publishes.
void Hub::processBatch(std::vector<Request>& batch) {
  for (Request& r : batch) stage(r);
  const bool committed = commitBatch();
  for (Request& r : batch) reply(r, committed);
  if (!committed) {
    sequencer_.commitFailed();
    return;
  }
  publishBatch(batch);
  sequencer_.commitSucceeded();
}

// One store write for everything the batch staged; true when it is durable (or there was nothing
// to write).
bool Hub::commitBatch() {
  if (!sequencer_.hasPending()) return true;
  const std::string error = commitPending();
  if (error.empty()) {
    ++stats_.commits;
    if (failedCommitsInRow_ > 0) spdlog::info("group commits succeed again after {} failed", failedCommitsInRow_);
    failedCommitsInRow_ = 0;
    return true;
  }
  ++stats_.commitFailures;
  // The store fails fast while it waits to retry: one log line per second, not per batch.
  const auto now = std::chrono::steady_clock::now();
  if (failedCommitsInRow_++ == 0 || now >= nextCommitErrorLog_) {
    spdlog::error("group commit of {} messages failed ({} in a row): {}", sequencer_.pending().messages.size(),
                  failedCommitsInRow_, error);
    nextCommitErrorLog_ = now + std::chrono::seconds(1);
  }
  return false;
}

// After the replies of a committed batch: its kicks (their revocations are stored), then its
// messages in sequencing order.
void Hub::publishBatch(const std::vector<Request>& batch) {
  for (const Request& r : batch) {
    if (const auto* kick = std::get_if<KickRequest>(&r.request)) {
      publisher_.publishKick(kick->user, kick->code, kick->reason, r.kickNotBeforeMs);
      ++stats_.kicks;
    }
  }
  const std::vector<StoredMessage>& messages = sequencer_.pending().messages;
  publisher_.publishMessages(messages);
  stats_.published += messages.size();
}

std::string Hub::commitPending() {
  if (failpoint("hub.commit")) return "failpoint hub.commit";
  return store_.commit(sequencer_.pending(), config_.sync);
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

// Answers subscribes with sync{epoch, last}. Called between batches only, so each channel's
// in-memory seq is its durable seq. The positions are read in one batch (a frontend that
// reconnects resubscribes thousands of topics at once); a channel never written is at (0, 0) and
// nothing is written for it: its epoch comes with its first message, which the frontends adopt.
void Hub::publishSyncs(const std::vector<std::string>& channels) {
  std::vector<std::string> owned;
  owned.reserve(channels.size());
  for (const std::string& channel : channels) {
    if (isValidChannelName(channel) && decoder_.scope().owns(channel)) owned.push_back(channel);  // another shard answers the rest
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
        const std::string_view id = std::string_view(topic).substr(kFrontendTopicPrefix.size());
        publisher_.publishBoot(id.substr(0, id.size() - 1), bootId_);
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
    zmq::message_t body = std::move(frames.back());
    frames.pop_back();
    r.envelope = std::move(frames);
    if (fromApp) {
      ++stats_.appRequests;
      r.form = ReplyForm::App;
      r.request = decoder_.decodeApp(body.to_string_view());
    } else {
      ++stats_.frontendRequests;
      DecodedRequest decoded = decoder_.decodeFrontend(body.to_string_view());
      r.form = decoded.form;
      r.reqId = decoded.reqId;
      r.request = std::move(decoded.request);
    }
    ++n;
  }
  return n;
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

// A refusal replaces r.request with a RequestError, after which the alternative it held is gone.
void Hub::stage(Request& r) {
  if (auto* publish = std::get_if<PublishRequest>(&r.request)) {
    stagePublish(r, *publish);
  } else if (const auto* kick = std::get_if<KickRequest>(&r.request)) {
    // Stored (a revocation in this batch's commit) before it is answered and published: the
    // user's tokens and sids issued until now are refused by every frontend from then on.
    r.kickNotBeforeMs = nowMs();
    sequencer_.stage(Revocation{kick->user, r.kickNotBeforeMs});
  } else if (const auto* hello = std::get_if<HelloRequest>(&r.request)) {
    admitFrontend(r, hello->frontendId, hello->boot);
  } else if (const auto* attach = std::get_if<AttachRequest>(&r.request)) {
    stageAttach(r, *attach);
  } else if (const auto* detach = std::get_if<DetachRequest>(&r.request)) {
    stageDetach(*detach);
  }
}

void Hub::stagePublish(Request& r, PublishRequest& publish) {
  r.outcome = sequencer_.sequence(std::move(publish.input), nowMs());
  if (r.outcome.status == PublishStatus::BadRequest) {
    r.request = RequestError{"bad_request", std::move(r.outcome.message)};
  } else if (r.outcome.status == PublishStatus::Unavailable) {
    r.request = RequestError{"unavailable", std::move(r.outcome.message)};
  }
}

void Hub::stageAttach(Request& r, const AttachRequest& attach) {
  if (!admitFrontend(r, attach.frontendId, attach.boot)) return;
  std::vector<std::string> inboxes;
  inboxes.reserve(attach.users.size());
  for (const std::string& user : attach.users) inboxes.push_back(std::string(kInboxPrefix) + user);
  // One batched read; an inbox never written is at (0, 0) and nothing is written for it.
  std::string error;
  std::optional<std::vector<ChannelMeta>> positions = sequencer_.positions(inboxes, error);
  if (!positions) {
    r.request = RequestError{"unavailable", std::move(error)};
    return;
  }
  r.positions = std::move(*positions);
  for (const std::string& user : attach.users) {
    if (!inboxes_.attach(attach.frontendId, user)) {
      spdlog::warn("frontend {}: attach refused, {} frontends already hold inboxes (the most routed)",
                   attach.frontendId, InboxRouter::kMaxFrontends);
      r.request = RequestError{"unavailable", "too many frontends hold inboxes"};
      return;
    }
  }
}

// Only the admitted process of an id detaches its users (not a second one using the same id). A
// detach is not a heartbeat: it leaves the frontend's admission as it is.
void Hub::stageDetach(const DetachRequest& detach) {
  if (!frontends_.owns(detach.frontendId, detach.boot)) return;
  for (const std::string& user : detach.users) inboxes_.detach(detach.frontendId, user);
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
  // Last: the assignment replaces the request `id` may point into.
  r.request = RequestError{"conflict", "frontend id " + id + " is in use by another running process; give each "
                                       "frontend its own --id"};
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

void Hub::expireFrontends() {
  for (const std::string& id : frontends_.expire(std::chrono::steady_clock::now())) {
    spdlog::info("frontend {} gone (no hello for {} s): forgetting its inboxes", id, config_.frontendTimeout);
    inboxes_.forgetFrontend(id);
  }
}

void Hub::reply(Request& r, bool committed) {
  // What needed the batch's commit fails with it: a publish's ack; an attach (the epochs of inboxes
  // it created were not stored: the frontend attaches again); a kick (its revocation was not
  // stored: the app retries; nobody is closed meanwhile).
  const bool needsCommit = std::holds_alternative<AttachRequest>(r.request) ||
                           std::holds_alternative<KickRequest>(r.request) ||
                           (std::holds_alternative<PublishRequest>(r.request) && r.outcome.pending);
  if (needsCommit && !committed) return replyError(r, "unavailable", "store write failed");
  std::visit([&](const auto& request) { answer(r, request); }, r.request);
}

void Hub::replyError(Request& r, const std::string& code, const std::string& message) {
  if (code == "bad_request") ++stats_.badRequests;
  if (r.form != ReplyForm::Frontend) return replyApp(r, encodeAppError(code, message));
  wire::HubReply reply;
  reply.mutable_error()->set_code(code);
  reply.mutable_error()->set_message(message);
  replyFrontend(r, reply);
}

void Hub::replyApp(Request& r, const std::string& json) {
  if (r.form == ReplyForm::App) return send(app_, r.envelope, json);
  wire::HubReply reply;
  reply.set_app_json(json);
  replyFrontend(r, reply);
}

void Hub::replyFrontend(Request& r, wire::HubReply& reply) {
  reply.set_req_id(r.reqId);
  send(frontend_, r.envelope, reply.SerializeAsString());
}

void Hub::answer(Request& r, const RequestError& error) { replyError(r, error.code, error.message); }

void Hub::answer(Request& r, const PublishRequest& /*publish*/) {
  if (r.outcome.status == PublishStatus::Duplicate) ++stats_.duplicates;
  if (r.form != ReplyForm::Frontend) return replyApp(r, encodePublishOk(r.outcome.epoch, r.outcome.seq));
  wire::HubReply reply;
  reply.mutable_publish_ack()->set_epoch(r.outcome.epoch);
  reply.mutable_publish_ack()->set_seq(r.outcome.seq);
  replyFrontend(r, reply);
}

// One page of the channel; a channel never written reports the epoch its first message will carry.
HistoryPage Hub::readHistory(const HistoryRequest& h, size_t maxBytes) {
  HistoryPage page = store_.readPage(h.channel, {h.before, h.after, h.limit, maxBytes});
  if (page.epoch == 0) page.epoch = sequencer_.epochFor(h.channel);
  return page;
}

void Hub::answer(Request& r, const HistoryRequest& history) {
  if (r.form != ReplyForm::Frontend) {
    try {
      replyApp(r, encodeHistoryOk(readHistory(history, kMaxAppPageBytes)));
    } catch (const HistoryStoreError& e) {
      replyApp(r, encodeAppError("unavailable", e.what()));
    }
    return;
  }
  wire::HubReply reply;
  try {
    HistoryPage page = readHistory(history, kMaxPageBytes);
    wire::HistoryPage* out = reply.mutable_history();
    out->set_epoch(page.epoch);
    out->set_last_seq(page.lastSeq);
    out->set_more(page.more);
    for (StoredMessage& m : page.msgs) toDelivery(std::move(m), *out->add_msgs());
  } catch (const HistoryStoreError& e) {
    reply.clear_history();
    reply.mutable_error()->set_code("unavailable");
    reply.mutable_error()->set_message(e.what());
  }
  replyFrontend(r, reply);
}

void Hub::answer(Request& r, const StatsRequest& /*stats*/) { replyApp(r, encodeStatsOk(snapshotStats())); }

// The kick itself goes out after the replies (publishBatch).
void Hub::answer(Request& r, const KickRequest& /*kick*/) {
  if (r.form != ReplyForm::Frontend) return replyApp(r, encodeAppOk());
  wire::HubReply reply;
  replyFrontend(r, reply);
}

void Hub::answer(Request& r, const HelloRequest& /*hello*/) {
  if (r.reqId == 0) return;
  wire::HubReply reply;
  wire::HubInfo* info = reply.mutable_hub_info();
  info->set_boot_id(bootId_);
  info->set_max_data_bytes(static_cast<uint64_t>(config_.maxDataBytes));
  info->set_max_request_bytes(maxRequestBytes());
  replyFrontend(r, reply);
}

// The positions a frontend's joining inbox subscribers start from.
void Hub::answer(Request& r, const AttachRequest& attach) {
  wire::HubReply reply;
  wire::AttachAck* ack = reply.mutable_attached();
  for (size_t i = 0; i < attach.users.size(); ++i) {
    const std::string& user = attach.users[i];
    // Written in this batch (or loaded): the state in memory; else the position read when staged.
    std::optional<ChannelMeta> meta = sequencer_.channelState(std::string(kInboxPrefix) + user);
    if (!meta && i < r.positions.size()) meta = r.positions[i];
    wire::InboxState* state = ack->add_inboxes();
    state->set_user(user);
    state->set_epoch(meta ? meta->epoch : 0);
    state->set_last_seq(meta ? meta->lastSeq : 0);
  }
  replyFrontend(r, reply);
}

void Hub::answer(Request& /*r*/, const DetachRequest& /*detach*/) {}  // no reply (req_id 0)

void Hub::answer(Request& r, const RevocationsRequest& revocations) {
  wire::HubReply reply;
  try {
    wire::RevocationList* list = reply.mutable_revocations();
    for (Revocation& rev : store_.loadRevocations(std::max(revocations.sinceMs, nowMs() - config_.revocationTtl * 1000))) {
      wire::Revocation* out = list->add_revocations();
      out->set_user(std::move(rev.user));
      out->set_not_before_ms(rev.notBeforeMs);
    }
  } catch (const HistoryStoreError& e) {
    reply.clear_revocations();
    reply.mutable_error()->set_code("unavailable");
    reply.mutable_error()->set_message(e.what());
  }
  replyFrontend(r, reply);
}

HubStats Hub::snapshotStats() {
  const auto now = std::chrono::steady_clock::now();
  expireFrontends();
  HubStats s = stats_;
  s.channels = storedChannelsAtStart_ + sequencer_.createdChannels();
  s.frontends = frontends_.size();
  s.inboxUsers = inboxes_.users();
  s.channelsInMemory = sequencer_.channelsInMemory();
  s.uptimeS = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(now - started_).count());
  s.subscribedTopics = subscribers_.size();
  if (zap_) {
    s.authAdmitted = zap_->admitted();
    s.authRefused = zap_->refused();
  }
  return s;
}

}  // namespace webim::hub
