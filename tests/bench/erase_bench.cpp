// erase_bench: publish->ack latency while a hub erases a user (erase_user, broadcast/erase_job.h),
// against the same hub idle of erasing, side by side in one run. Run through scripts/bench-erase.
// Starts one webim-broadcast (RocksDB in --work-dir), stores --messages messages of the sender
// "victim" over --victim-channels channels (pipelined, --window in flight), then two phases of
// --seconds each with --publishers DEALER sockets on the frontend ingress (one publish in flight
// each, as hub_bench): "baseline" (no job), then "erasing" (erase_user victim sent at its start;
// erase_status polled every 100 ms on the app ingress until done). Prints acks/s, p50/p99/max ack
// latency per phase and how long the erase took. A benchmark, not a test: nothing is asserted.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "proto/webim.pb.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  std::string hub, workDir = "var/bench/erase";
  int messages = 100000, victimChannels = 100, window = 2000, publishers = 16;
  double seconds = 10;
};

double percentile(std::vector<uint32_t> v, double q) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k] / 1000.0;
}

std::string appCall(zmq::socket_t& app, const std::string& json) {
  app.send(zmq::message_t(), zmq::send_flags::sndmore);
  app.send(zmq::buffer(json), zmq::send_flags::none);
  zmq::message_t empty, body;
  (void)app.recv(empty);
  (void)app.recv(body);
  return body.to_string();
}

std::string publishFrame(uint64_t id, const std::string& channel, const std::string& from, const std::string& cid) {
  webim::wire::FrontendRequest req;
  req.set_req_id(id);
  auto* pub = req.mutable_publish();
  pub->set_channel(channel);
  pub->set_from(from);
  pub->set_cid(cid);
  pub->set_data("\"" + std::string(98, 'x') + "\"");
  return req.SerializeAsString();
}

// The victim's messages, --window in flight on one socket.
void prefill(zmq::context_t& ctx, const Args& a, const std::string& ingress) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.connect(ingress);
  int sent = 0, acked = 0;
  while (acked < a.messages) {
    while (sent < a.messages && sent - acked < a.window) {
      s.send(zmq::buffer(publishFrame(sent + 1, "victim:" + std::to_string(sent % a.victimChannels), "victim",
                                      "v" + std::to_string(sent))),
             zmq::send_flags::none);
      ++sent;
    }
    zmq::message_t m;
    if (s.recv(m)) ++acked;
  }
}

struct Phase {
  uint64_t acks = 0;
  std::vector<uint32_t> latNs;
  double eraseS = -1;  // erasing phase: seconds until erase_status said done (-1: not within it)
  std::string status;
};

Phase drive(zmq::context_t& ctx, const Args& a, const std::string& ingress, zmq::socket_t& app, bool erase, int round) {
  std::vector<zmq::socket_t> socks;
  std::vector<zmq::pollitem_t> items;
  std::vector<Clock::time_point> sentAt(a.publishers);
  std::vector<uint64_t> counter(a.publishers, 0);
  for (int i = 0; i < a.publishers; ++i) {
    socks.emplace_back(ctx, zmq::socket_type::dealer);
    socks.back().connect(ingress);
    items.push_back({socks.back().handle(), 0, ZMQ_POLLIN, 0});
  }
  auto send = [&](int i) {
    sentAt[i] = Clock::now();
    socks[i].send(zmq::buffer(publishFrame(++counter[i], "bench:" + std::to_string(i), "bench-" + std::to_string(i),
                                           "p" + std::to_string(round) + "-" + std::to_string(i) + "-" +
                                               std::to_string(counter[i]))),
                  zmq::send_flags::none);
  };
  Phase p;
  const auto start = Clock::now();
  if (erase) appCall(app, R"({"op":"erase_user","user":"victim"})");
  for (int i = 0; i < a.publishers; ++i) send(i);
  auto nextPoll = start + std::chrono::milliseconds(100);
  const auto end = start + std::chrono::duration<double>(a.seconds);
  for (auto now = Clock::now(); now < end; now = Clock::now()) {
    zmq::poll(items.data(), items.size(), std::chrono::milliseconds(20));
    for (int i = 0; i < a.publishers; ++i) {
      zmq::message_t m;
      while (socks[i].recv(m, zmq::recv_flags::dontwait)) {
        ++p.acks;
        p.latNs.push_back(static_cast<uint32_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - sentAt[i]).count() / 1000 * 1000));
        send(i);
      }
    }
    if (erase && p.eraseS < 0 && Clock::now() >= nextPoll) {
      nextPoll += std::chrono::milliseconds(100);
      p.status = appCall(app, R"({"op":"erase_status","user":"victim"})");
      if (p.status.find("\"done\"") != std::string::npos)
        p.eraseS = std::chrono::duration<double>(Clock::now() - start).count();
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--hub") a.hub = v;
    else if (k == "--work-dir") a.workDir = v;
    else if (k == "--messages") a.messages = std::stoi(v);
    else if (k == "--victim-channels") a.victimChannels = std::stoi(v);
    else if (k == "--publishers") a.publishers = std::stoi(v);
    else if (k == "--seconds") a.seconds = std::stod(v);
    else if (k == "--window") a.window = std::stoi(v);
    else {
      std::cerr << "usage: erase_bench --hub PATH [--work-dir DIR] [--messages 100000] [--victim-channels 100]\n"
                   "  [--publishers 16] [--seconds 10] [--window 2000]\n";
      return 2;
    }
  }
  const fs::path dir = fs::absolute(a.workDir);
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string app = "ipc://" + (dir / "app").string(), ingress = "ipc://" + (dir / "fe").string();
  const pid_t pid = fork();
  if (pid == 0) {
    FILE* log = fopen((dir / "hub.log").c_str(), "w");
    if (log) dup2(fileno(log), 2);
    execl(a.hub.c_str(), a.hub.c_str(), "--app-ingress", app.c_str(), "--hub-ingress", ingress.c_str(), "--hub-pub",
          ("ipc://" + (dir / "pub").string()).c_str(), "--data", (dir / "data").c_str(), "--log-level", "info",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  zmq::context_t ctx;
  zmq::socket_t appSock(ctx, zmq::socket_type::dealer);
  appSock.connect(app);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  appCall(appSock, R"({"op":"stats"})");
  const auto fillStart = Clock::now();
  prefill(ctx, a, ingress);
  std::printf("erase_bench: %d messages of \"victim\" over %d channels stored in %.1f s; %d publishers, %.0f s per phase\n\n",
              a.messages, a.victimChannels, std::chrono::duration<double>(Clock::now() - fillStart).count(),
              a.publishers, a.seconds);
  std::printf("| phase    |  acks/s | p50 ms | p99 ms | max ms | erase took |\n|----------|--------:|-------:|-------:|-------:|-----------:|\n");
  for (int round = 0; round < 2; ++round) {
    Phase p = drive(ctx, a, ingress, appSock, round == 1, round);
    const double maxMs = p.latNs.empty() ? 0 : *std::max_element(p.latNs.begin(), p.latNs.end()) / 1e6;
    std::printf("| %-8s | %7.0f | %6.2f | %6.2f | %6.2f | %s |\n", round == 0 ? "baseline" : "erasing",
                static_cast<double>(p.acks) / a.seconds, percentile(p.latNs, 0.5) / 1000, percentile(p.latNs, 0.99) / 1000,
                maxMs, round == 0 ? "-" : (p.eraseS < 0 ? "not done: " + p.status : std::to_string(p.eraseS) + " s").c_str());
  }
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  return 0;
}
