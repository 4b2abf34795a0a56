// attach_bench's parts apart from the fake frontends (attach_bench.cpp): arguments, the hub process
// it starts and measures, the steady app publisher, and the report.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>
#include <zmq.hpp>

namespace webim::bench {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Args {
  std::vector<std::string> hubs;  // hub binaries, each run against a fresh hub, in this order
  size_t users = 1000000;
  size_t frontends = 10;
  size_t stormUsers = 100000;
  double rate = 300;  // app publishes per second
  size_t chunkBytes = 32 * 1024;
  size_t window = 4;  // attach chunks in flight per frontend
  double stormSeconds = 0;  // spread the storm's chunks evenly over this long (0: as fast as answered)
  size_t written = 0;  // inboxes given a message (then the hub restarts) before the attach
  bool check = false;
  bool keep = false;  // keep the temp dir (hub logs)
  std::vector<std::string> hubArgs;
};
Args parseArgs(int argc, char** argv);

enum class Phase : int { Idle, Attach, Settle, Storm, After };
constexpr size_t kPhases = 5;

struct Latencies {
  uint64_t sent = 0, acked = 0, errors = 0;
  double p50ms = 0, p99ms = 0, maxms = 0;
};

struct AttachStats {
  uint64_t chunks = 0;
  uint64_t chunkErrors = 0;
  uint64_t worstChunkUs = 0;
};

struct HubRun {
  std::string hub;
  std::string failure;
  uint64_t rssIdle = 0, rssAttached = 0, rssAfterStorm = 0;
  int64_t usersAfterAttach = -1, usersAfterStorm = -1;
  double attachSeconds = 0, stormSeconds = 0;
  uint64_t attachWorstChunkUs = 0, stormWorstChunkUs = 0;
  size_t stormUsers = 0;
  AttachStats attach;
  std::array<Latencies, kPhases> publishes{};
};

// A webim-broadcast on ipc:// endpoints in `dir` (RocksDB, --no-sync), stopped by the destructor.
class HubProcess {
 public:
  HubProcess(const Args& a, const std::string& binary, const fs::path& dir);
  ~HubProcess();
  // Stops the hub (SIGTERM) and starts it again on the same data dir and endpoints.
  bool restart(zmq::context_t& ctx);
  HubProcess(const HubProcess&) = delete;
  HubProcess& operator=(const HubProcess&) = delete;
  bool waitReady(zmq::context_t& ctx);
  uint64_t rssBytes() const;                // VmRSS
  int64_t inboxUsers(zmq::context_t& ctx);  // the `inbox_users` stat, -1 without an answer
  std::string appEndpoint() const { return "ipc://" + (dir_ / "app").string(); }
  std::string ingressEndpoint() const { return "ipc://" + (dir_ / "fe").string(); }

 private:
  void start();
  void stop();

  fs::path dir_;
  std::vector<std::string> args_;
  pid_t pid_ = -1;
};

// One app publishing on the app ingress at a steady rate from its own thread (open loop: the next
// publish goes out on schedule whether or not the last was acked), latencies kept per phase.
class Publisher {
 public:
  Publisher(zmq::context_t& ctx, std::string endpoint, double rate) : ctx_(ctx), endpoint_(std::move(endpoint)), rate_(rate) {}
  void run();
  void setPhase(Phase p) { phase_.store(static_cast<int>(p)); }
  // Stops sending; run() returns once the publishes in flight are acked (or after 5 s).
  void stop() { stop_.store(true); }
  std::array<Latencies, kPhases> results() const { return results_; }

 private:
  zmq::context_t& ctx_;
  std::string endpoint_;
  double rate_;
  std::atomic<int> phase_{0};
  std::atomic<bool> stop_{false};
  std::array<Latencies, kPhases> results_{};
};

// One app publish to each of the inboxes of the first `users` users (`user:<1000000 + k>`), 100
// in flight; false on a failed or missing ack.
bool writeInboxes(zmq::context_t& ctx, const std::string& endpoint, size_t users);

void printReport(const Args& a, const std::vector<HubRun>& runs);
// 0 when every run attached every user (after the attach and after the storm), every chunk was
// acknowledged and every publish acked; else 1, with the reason on stderr.
int checkRuns(const Args& a, const std::vector<HubRun>& runs);

}  // namespace webim::bench
