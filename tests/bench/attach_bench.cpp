// attach_bench: what a hub spends per attached user, and whether an attach storm stalls its
// publishes. Run through scripts/bench-attach. For each hub binary given it starts a fresh hub
// (RocksDB in a temp dir, ipc:// endpoints), then:
//  1. plays `--frontends` fake frontends (DEALERs on the frontend ingress: hello, then Attach
//     requests of at most `--chunk-bytes` of user ids each, `--window` in flight per frontend, as
//     frontend/inbox_attacher does) attaching `--users` users (7-digit ids), and reads the hub's
//     RSS (/proc/<pid>/status VmRSS) before and after: bytes per attached user;
//  2. a storm: enough frontends to hold `--storm-users` users restart (a new socket and boot id:
//     the hub forgets their users) and attach them all again;
//  3. throughout, one app publishes at `--rate` per second on the app ingress (open loop: a stalled
//     hub shows as latency), and the tool reports publish->ack p50/p99/max per phase and the
//     slowest attach chunk.
// --written N gives the first N users' inboxes a message and restarts the hub before all this (an
// attach then loads those inboxes' positions from the store: the Sequencer keeps them a while).
// With --check it exits 1 unless the hub's `inbox_users` stat is --users after the attach and after
// the storm, every chunk was acknowledged and every publish acked (speed is not judged).
#include "attach_bench_support.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <map>
#include <random>
#include <thread>
#include <zmq_addon.hpp>

#include "proto/webim.pb.h"

namespace webim::bench {

namespace {

// One fake frontend: its DEALER, its users, the chunks it has still to send.
struct FakeFrontend {
  std::string id;
  uint64_t boot = 0;
  std::unique_ptr<zmq::socket_t> dealer;
  std::vector<std::vector<std::string>> chunks;  // what to attach
  size_t nextChunk = 0;
  size_t users = 0;
  std::map<uint64_t, std::pair<Clock::time_point, size_t>> inFlight;  // req_id -> (sent, users)
  Clock::time_point lastHello{};
};

class Driver {
 public:
  Driver(const Args& a, zmq::context_t& ctx, const std::string& ingress, AttachStats& stats)
      : a_(a), ctx_(ctx), ingress_(ingress), stats_(stats), rng_(std::random_device{}()) {}

  // Connects every frontend and says hello; splits the users into chunks.
  bool start() {
    for (size_t f = 0; f < a_.frontends; ++f) {
      FakeFrontend fe;
      fe.id = "bench-fe-" + std::to_string(f);
      fronts_.push_back(std::move(fe));
    }
    std::vector<std::vector<std::string>> owned(a_.frontends);
    for (size_t k = 0; k < a_.users; ++k) owned[k % a_.frontends].push_back(std::to_string(1000000 + k));
    for (size_t f = 0; f < a_.frontends; ++f) {
      fronts_[f].users = owned[f].size();
      fronts_[f].chunks = chunked(owned[f], a_.chunkBytes);
      if (!reconnect(fronts_[f])) return false;
    }
    return true;
  }

  // Sends every remaining chunk of `which` frontends (window in flight each) until all are answered.
  // With `spreadSeconds` > 0 the chunks go out evenly over that long (as users reconnecting over a
  // while reach a restarted frontend), still at most `window` in flight per frontend.
  void attachAll(const std::vector<size_t>& which, double spreadSeconds = 0) {
    size_t total = 0;
    for (size_t f : which) total += fronts_[f].chunks.size() - fronts_[f].nextChunk;
    const auto t0 = Clock::now();
    size_t sent = 0;
    auto due = [&] {
      if (spreadSeconds <= 0 || total == 0) return true;
      const double at = spreadSeconds * static_cast<double>(sent) / static_cast<double>(total);
      return std::chrono::duration<double>(Clock::now() - t0).count() >= at;
    };
    for (;;) {
      bool busy = false;
      for (size_t f : which) {
        FakeFrontend& fe = fronts_[f];
        while (fe.inFlight.size() < a_.window && fe.nextChunk < fe.chunks.size() && due()) {
          sendAttach(fe);
          ++sent;
        }
        busy = busy || !fe.inFlight.empty() || fe.nextChunk < fe.chunks.size();
      }
      if (!busy) return;
      pollReplies(std::chrono::milliseconds(spreadSeconds > 0 ? 5 : 100));
      heartbeats();
    }
  }

  // A restart of frontend f: a new socket (the old one's connection goes) and a new boot id.
  bool restart(size_t f) {
    fronts_[f].nextChunk = 0;
    return reconnect(fronts_[f]);
  }

  size_t usersOf(size_t f) const { return fronts_[f].users; }

 private:
  static std::vector<std::vector<std::string>> chunked(const std::vector<std::string>& users, size_t maxBytes) {
    std::vector<std::vector<std::string>> out(1);
    size_t bytes = 0;
    for (const std::string& u : users) {
      const size_t cost = u.size() + 2;  // the id and its protobuf tag and length
      if (bytes + cost > maxBytes && !out.back().empty()) {
        out.emplace_back();
        bytes = 0;
      }
      out.back().push_back(u);
      bytes += cost;
    }
    return out;
  }

  bool reconnect(FakeFrontend& fe) {
    fe.inFlight.clear();
    fe.boot = rng_();
    for (int attempt = 0; attempt < 100; ++attempt) {
      fe.dealer = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::dealer);
      fe.dealer->set(zmq::sockopt::linger, 0);
      fe.dealer->connect(ingress_);
      wire::FrontendRequest req;
      req.set_req_id(++reqId_);
      req.mutable_hello()->set_frontend_id(fe.id);
      req.mutable_hello()->set_boot_id(fe.boot);
      fe.dealer->send(zmq::buffer(req.SerializeAsString()), zmq::send_flags::none);
      wire::HubReply reply;
      if (receiveOne(*fe.dealer, reply, std::chrono::seconds(10)) && reply.has_hub_info()) {
        fe.lastHello = Clock::now();
        return true;
      }
      // `conflict`: the hub still sees the old connection; try again shortly.
      fe.dealer.reset();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::cerr << "attach_bench: frontend " << fe.id << " was not admitted\n";
    return false;
  }

  static bool receiveOne(zmq::socket_t& s, wire::HubReply& reply, std::chrono::milliseconds wait) {
    zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, wait) == 0) return false;
    zmq::message_t m;
    if (!s.recv(m)) return false;
    return reply.ParseFromArray(m.data(), static_cast<int>(m.size()));
  }

  void sendAttach(FakeFrontend& fe) {
    wire::FrontendRequest req;
    req.set_req_id(++reqId_);
    auto* attach = req.mutable_attach();
    attach->set_frontend_id(fe.id);
    attach->set_boot_id(fe.boot);
    const std::vector<std::string>& users = fe.chunks[fe.nextChunk++];
    for (const std::string& u : users) attach->add_users(u);
    fe.inFlight.emplace(req.req_id(), std::make_pair(Clock::now(), users.size()));
    fe.dealer->send(zmq::buffer(req.SerializeAsString()), zmq::send_flags::none);
  }

  void pollReplies(std::chrono::milliseconds wait) {
    std::vector<zmq::pollitem_t> items;
    for (FakeFrontend& fe : fronts_) items.push_back({fe.dealer->handle(), 0, ZMQ_POLLIN, 0});
    zmq::poll(items.data(), items.size(), wait);
    wire::HubReply reply;
    for (size_t f = 0; f < fronts_.size(); ++f) {
      if (!(items[f].revents & ZMQ_POLLIN)) continue;
      FakeFrontend& fe = fronts_[f];
      zmq::message_t m;
      while (fe.dealer->recv(m, zmq::recv_flags::dontwait)) {
        if (!reply.ParseFromArray(m.data(), static_cast<int>(m.size()))) continue;
        auto it = fe.inFlight.find(reply.req_id());
        if (it == fe.inFlight.end()) continue;  // a heartbeat's answer
        const auto rtt = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - it->second.first);
        stats_.worstChunkUs = std::max<uint64_t>(stats_.worstChunkUs, static_cast<uint64_t>(rtt.count()));
        ++stats_.chunks;
        if (reply.has_error() || !reply.has_attached() ||
            static_cast<size_t>(reply.attached().inboxes_size()) != it->second.second) {
          ++stats_.chunkErrors;
          if (stats_.chunkErrors == 1) std::cerr << "attach_bench: attach failed: " << reply.error().code() << "\n";
        }
        fe.inFlight.erase(it);
      }
    }
  }

  // A hello every few seconds, as a frontend's heartbeat (the hub forgets one silent for 30 s).
  void heartbeats() {
    const auto now = Clock::now();
    for (FakeFrontend& fe : fronts_) {
      if (now - fe.lastHello < std::chrono::seconds(5)) continue;
      wire::FrontendRequest req;
      req.set_req_id(++reqId_);
      req.mutable_hello()->set_frontend_id(fe.id);
      req.mutable_hello()->set_boot_id(fe.boot);
      fe.dealer->send(zmq::buffer(req.SerializeAsString()), zmq::send_flags::none);
      fe.lastHello = now;
    }
  }

  const Args& a_;
  zmq::context_t& ctx_;
  std::string ingress_;
  AttachStats& stats_;
  std::mt19937_64 rng_;
  std::vector<FakeFrontend> fronts_;
  uint64_t reqId_ = 0;
};

}  // namespace

HubRun runHub(const Args& a, zmq::context_t& ctx, const std::string& hubBinary, const fs::path& dir) {
  HubRun run;
  run.hub = hubBinary;
  HubProcess hub(a, hubBinary, dir);
  if (!hub.waitReady(ctx)) {
    run.failure = "the hub did not start (log: " + (dir / "hub.log").string() + ")";
    return run;
  }
  // Inboxes with a stored message, then a restart: what a hub meets when frontends re-attach.
  if (a.written > 0 && (!writeInboxes(ctx, hub.appEndpoint(), a.written) || !hub.restart(ctx))) {
    run.failure = "writing the inboxes or restarting the hub failed (log: " + (dir / "hub.log").string() + ")";
    return run;
  }
  Publisher publisher(ctx, hub.appEndpoint(), a.rate);
  std::thread publishing([&] { publisher.run(); });
  Driver driver(a, ctx, hub.ingressEndpoint(), run.attach);
  auto finish = [&] {
    publisher.stop();
    publishing.join();
    run.publishes = publisher.results();
  };
  if (!driver.start()) {
    run.failure = "fake frontends were not admitted";
    finish();
    return run;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  run.rssIdle = hub.rssBytes();

  publisher.setPhase(Phase::Attach);
  std::vector<size_t> all(a.frontends);
  for (size_t f = 0; f < a.frontends; ++f) all[f] = f;
  auto t0 = Clock::now();
  driver.attachAll(all);
  run.attachSeconds = std::chrono::duration<double>(Clock::now() - t0).count();
  publisher.setPhase(Phase::Settle);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  run.rssAttached = hub.rssBytes();
  run.usersAfterAttach = hub.inboxUsers(ctx);
  run.attachWorstChunkUs = run.attach.worstChunkUs;

  // The storm: frontends restart until storm-users users re-attach.
  std::vector<size_t> storm;
  size_t stormUsers = 0;
  for (size_t f = 0; f < a.frontends && stormUsers < a.stormUsers; ++f) {
    storm.push_back(f);
    stormUsers += driver.usersOf(f);
  }
  run.stormUsers = stormUsers;
  publisher.setPhase(Phase::Storm);
  run.attach.worstChunkUs = 0;
  t0 = Clock::now();
  for (size_t f : storm) {
    if (!driver.restart(f)) run.failure = "a restarted frontend was not admitted";
  }
  driver.attachAll(storm, a.stormSeconds);
  run.stormSeconds = std::chrono::duration<double>(Clock::now() - t0).count();
  run.stormWorstChunkUs = run.attach.worstChunkUs;
  publisher.setPhase(Phase::After);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  run.usersAfterStorm = hub.inboxUsers(ctx);
  run.rssAfterStorm = hub.rssBytes();
  finish();
  return run;
}

}  // namespace webim::bench

int main(int argc, char** argv) {
  using namespace webim::bench;
  const Args a = parseArgs(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  const fs::path work = fs::temp_directory_path() / ("webim-attach-bench-" + std::to_string(getpid()));
  zmq::context_t ctx(1);
  std::vector<HubRun> runs;
  for (size_t i = 0; i < a.hubs.size(); ++i) {
    const fs::path dir = work / std::to_string(i);
    fs::create_directories(dir);
    std::cerr << "attach_bench: " << a.hubs[i] << ": " << a.users << " users over " << a.frontends
              << " frontends, storm " << a.stormUsers << ", " << a.rate << " publishes/s\n";
    runs.push_back(runHub(a, ctx, a.hubs[i], dir));
  }
  std::error_code ec;
  if (!a.keep) fs::remove_all(work, ec);
  printReport(a, runs);
  return a.check ? checkRuns(a, runs) : 0;
}
