// Hub memory for channel presence (scripts/bench-presence): starts a fresh webim-broadcast with
// presence on `room`, then fake frontends report --channels channels of --members members each
// (ChannelPresenceUpdate chunks of <= 32 KiB of ids, as real frontends send; 7-digit user ids, each
// member on one frontend). Prints the hub's RSS before and after, per member and per channel. Run
// once with many members per channel (the per-member cost) and once with one member per channel
// (the per-channel cost). A benchmark: nothing is asserted.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "proto/webim.pb.h"

namespace fs = std::filesystem;

namespace {

struct Args {
  std::string hub;
  size_t channels = 10000;
  size_t members = 100;
  size_t frontends = 2;
};

uint64_t rssBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

std::string appCall(zmq::context_t& ctx, const std::string& endpoint, const std::string& json) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::rcvtimeo, 2000);
  s.connect(endpoint);
  s.send(zmq::buffer(json));
  zmq::message_t reply;
  return s.recv(reply) ? reply.to_string() : std::string();
}

// Sends the frontend's channels (every `frontends`-th member of each) in chunks of <= 32 KiB.
void report(zmq::socket_t& s, const Args& a, size_t frontend) {
  webim::wire::FrontendRequest request;
  size_t bytes = 0;
  auto flush = [&] {
    if (request.channel_presence_update().channels_size() == 0) return;
    s.send(zmq::buffer(request.SerializeAsString()));
    request.mutable_channel_presence_update()->clear_channels();
    bytes = 0;
  };
  request.mutable_channel_presence_update()->set_frontend_id("bench-fe" + std::to_string(frontend));
  request.mutable_channel_presence_update()->set_boot_id(1000 + frontend);
  for (size_t c = 0; c < a.channels; ++c) {
    webim::wire::ChannelPresenceChange* change = request.mutable_channel_presence_update()->add_channels();
    change->set_channel("room:" + std::to_string(c));
    size_t mine = 0;
    for (size_t m = frontend; m < a.members; m += a.frontends) {
      change->add_join(std::to_string(1000000 + c * a.members + m));
      bytes += 11;
      ++mine;
    }
    change->set_connections(static_cast<uint32_t>(mine));
    if (bytes > 32 * 1024) flush();
  }
  flush();
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--hub") a.hub = argv[i + 1];
    else if (flag == "--channels") a.channels = std::stoul(argv[i + 1]);
    else if (flag == "--members") a.members = std::stoul(argv[i + 1]);
    else if (flag == "--frontends") a.frontends = std::stoul(argv[i + 1]);
    else { std::cerr << "unknown flag " << flag << "\n"; return 2; }
  }
  if (a.hub.empty()) { std::cerr << "usage: presence_bench --hub BIN [--channels C] [--members M] [--frontends F]\n"; return 2; }
  char tmpl[] = "/tmp/webim-presence-bench-XXXXXX";
  const fs::path dir = mkdtemp(tmpl);
  const std::string app = "ipc://" + (dir / "app").string();
  const std::string ingress = "ipc://" + (dir / "fe").string();
  std::vector<std::string> args = {a.hub, "--app-ingress", app, "--hub-ingress", ingress, "--hub-pub",
                                   "ipc://" + (dir / "pub").string(), "--data", (dir / "data").string(), "--no-sync",
                                   "--log-level", "warn", "--presence-namespaces", "room", "--presence-max-members",
                                   std::to_string(std::max<size_t>(a.members, 1))};
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argvChild;
    for (std::string& s : args) argvChild.push_back(s.data());
    argvChild.push_back(nullptr);
    execv(argvChild[0], argvChild.data());
    _exit(127);
  }
  zmq::context_t ctx(1);
  bool ready = false;
  for (int i = 0; i < 100 && !ready; ++i) {
    ready = !appCall(ctx, app, R"({"op":"stats"})").empty();
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!ready) { std::cerr << "the hub did not answer\n"; kill(pid, SIGKILL); return 1; }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const uint64_t idle = rssBytes(pid);
  const auto start = std::chrono::steady_clock::now();
  std::vector<zmq::socket_t> frontends;
  for (size_t f = 0; f < a.frontends; ++f) {
    zmq::socket_t& s = frontends.emplace_back(ctx, zmq::socket_type::dealer);
    s.set(zmq::sockopt::sndhwm, 0);
    s.connect(ingress);
    report(s, a, f);
  }
  // Every frontend's last channel counted in full: everything before it was taken (one pipe each).
  const std::string last = "room:" + std::to_string(a.channels - 1);
  const std::string want = "\"users\":" + std::to_string(a.members) + "}";
  bool done = false;
  for (int i = 0; i < 600 && !done; ++i) {
    done = appCall(ctx, app, R"({"op":"presence_stats","ch":")" + last + "\"}").find(want) != std::string::npos;
    if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const uint64_t after = rssBytes(pid);
  const double members = static_cast<double>(a.channels * a.members);
  const double delta = static_cast<double>(after) - static_cast<double>(idle);
  std::printf("channels %zu x members %zu (%zu frontends): %s in %.2f s; hub RSS %.1f -> %.1f MiB (+%.1f MiB): "
              "%.1f B per member, %.1f B per channel\n",
              a.channels, a.members, a.frontends, done ? "all reported" : "NOT all reported", seconds, idle / 1048576.0,
              after / 1048576.0, delta / 1048576.0, delta / members, delta / static_cast<double>(a.channels));
  // A restart of frontend 0 (a new boot id for its id): the hub withdraws everything it reported in
  // one walk. Measured as the slowest app query answered meanwhile (the loop is busy in between).
  {
    webim::wire::FrontendRequest request;
    request.mutable_channel_presence_update()->set_frontend_id("bench-fe0");
    request.mutable_channel_presence_update()->set_boot_id(999999);
    frontends[0].close();  // the old process's connection is gone: the new one replaces it
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    zmq::socket_t restarted(ctx, zmq::socket_type::dealer);
    restarted.connect(ingress);
    restarted.send(zmq::buffer(request.SerializeAsString()));
    double worstMs = 0;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < until) {
      const auto t0 = std::chrono::steady_clock::now();
      appCall(ctx, app, R"({"op":"presence_stats","ch":"room:0"})");
      worstMs = std::max(worstMs, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::printf("frontend 0 replaced (%zu members withdrawn): slowest app query meanwhile %.1f ms\n",
                a.channels * ((a.members + a.frontends - 1) / a.frontends), worstMs);
  }
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  fs::remove_all(dir);
  return done ? 0 : 1;
}
