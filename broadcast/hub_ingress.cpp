// The hub's sockets: options, binding, CURVE peers, the subscription stream of the XPUB, and
// the ingress side of a batch (receive and decode; send a reply).
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <zmq_addon.hpp>

#include "broadcast/hub.h"
#include "broadcast/zmq_io.h"
#include "common/topics.h"

namespace webim::hub {

namespace {

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

}  // namespace

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
      if (++subscribers_[topic] == 1 && !isControlTopic(topic) && !topic.empty() && topic.back() == '\0') {
        metrics_.namespaces.subscribed(topic, 1);
      }
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
      if (it != subscribers_.end() && --it->second == 0) {
        if (!isControlTopic(topic) && !topic.empty() && topic.back() == '\0') {
          metrics_.namespaces.subscribed(topic, -1);
        }
        subscribers_.erase(it);
      }
    }
  }
  if (!toSync.empty()) publishSyncs(toSync);
}

// Up to `room` requests. Frontend requests stop for this batch once its inbox attaches name
// kMaxAttachUsersPerBatch users: a storm of re-attaching frontends (a hub restart: a million users
// in chunks of ~4,700) is spread over many batches instead of holding one batch's publishes back.
size_t Hub::receive(zmq::socket_ref socket, bool fromApp, std::vector<Request>& batch, size_t room) {
  size_t n = 0;
  while (n < room && (fromApp || attachUsersInBatch_ < kMaxAttachUsersPerBatch)) {
    std::vector<zmq::message_t> frames;
    if (!receiveMessage(socket, frames)) break;
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
      if (const auto* attach = std::get_if<AttachRequest>(&r.request)) attachUsersInBatch_ += attach->users.size();
      if (const auto* signal = std::get_if<SignalRequest>(&r.request)) {
        // Not part of the batch: nothing to store or answer; out at once, ahead of the batch's messages.
        publisher_.publishSignal(signal->channel, signal->from, signal->data, nowMs());
        ++stats_.signals;
        batch.pop_back();
        ++n;  // counts toward `room`: a flood of signals cannot keep the loop here
        continue;
      }
      if (const auto* notice = std::get_if<ReadNoticeRequest>(&r.request)) {
        // A receipt for the reader's other devices (hub_reads.cpp): out at once, like a signal.
        publisher_.publishReceipt(std::string(kInboxPrefix) + notice->user, notice->channel, notice->user, notice->seq);
        batch.pop_back();
        ++n;
        continue;
      }
    }
    if (takePresence(r)) {  // channel presence: taken or answered now, never batched
      batch.pop_back();
      ++n;
      continue;
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

}  // namespace webim::hub
