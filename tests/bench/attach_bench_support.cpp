#include "attach_bench_support.h"

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>
#include <zmq_addon.hpp>

namespace webim::bench {

namespace {

[[noreturn]] void usage(const std::string& error) {
  if (!error.empty()) std::cerr << "attach_bench: " << error << "\n";
  std::cerr << "usage: attach_bench --hub PATH [--hub PATH ...] [--users 1000000] [--frontends 10]\n"
               "  [--storm-users 100000] [--rate 300] [--chunk-bytes 32768] [--window 4] [--storm-seconds 0] [--written 0] [--check]\n"
               "  [--keep]\n"
               "  [-- extra hub flags]\n";
  std::exit(2);
}

const char* phaseName(size_t p) {
  static const char* names[kPhases] = {"idle", "attach", "settle", "storm", "after"};
  return names[p];
}

double mib(uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

}  // namespace

Args parseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--") {
      for (++i; i < argc; ++i) a.hubArgs.push_back(argv[i]);
      break;
    }
    if (k == "--check") {
      a.check = true;
      continue;
    }
    if (k == "--keep") {
      a.keep = true;
      continue;
    }
    if (i + 1 >= argc) usage("missing value for " + k);
    const std::string v = argv[++i];
    try {
      if (k == "--hub") a.hubs.push_back(v);
      else if (k == "--users") a.users = std::stoul(v);
      else if (k == "--frontends") a.frontends = std::stoul(v);
      else if (k == "--storm-users") a.stormUsers = std::stoul(v);
      else if (k == "--rate") a.rate = std::stod(v);
      else if (k == "--chunk-bytes") a.chunkBytes = std::stoul(v);
      else if (k == "--window") a.window = std::stoul(v);
      else if (k == "--storm-seconds") a.stormSeconds = std::stod(v);
      else if (k == "--written") a.written = std::stoul(v);
      else usage("unknown option " + k);
    } catch (const std::logic_error&) {
      usage("bad value for " + k + ": " + v);
    }
  }
  if (a.hubs.empty()) usage("--hub is required");
  if (a.users < 1 || a.users > 8000000) usage("--users must be 1..8000000 (7-digit ids)");
  if (a.frontends < 1 || a.frontends > 1000) usage("--frontends must be 1..1000");
  if (a.written > a.users) usage("--written must be at most --users");
  if (a.stormSeconds < 0 || a.stormSeconds > 60) usage("--storm-seconds must lie in 0..60");
  if (a.rate <= 0 || a.window < 1 || a.chunkBytes < 16) usage("--rate, --window and --chunk-bytes must be positive");
  return a;
}

HubProcess::HubProcess(const Args& a, const std::string& binary, const fs::path& dir) : dir_(dir) {
  args_ = {binary,      "--app-ingress", appEndpoint(), "--hub-ingress", ingressEndpoint(),
           "--hub-pub", "ipc://" + (dir / "pub").string(), "--data", (dir / "data").string(),
           "--no-sync", "--log-level", "warn"};
  args_.insert(args_.end(), a.hubArgs.begin(), a.hubArgs.end());
  start();
}

void HubProcess::start() {
  pid_ = fork();
  if (pid_ == 0) {
    FILE* log = fopen((dir_ / "hub.log").c_str(), "a");
    if (log) {
      dup2(fileno(log), 1);
      dup2(fileno(log), 2);
    }
    std::vector<char*> argv;
    for (auto& s : args_) argv.push_back(s.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
}

void HubProcess::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

bool HubProcess::restart(zmq::context_t& ctx) {
  stop();
  start();
  return waitReady(ctx);
}

HubProcess::~HubProcess() { stop(); }

bool HubProcess::waitReady(zmq::context_t& ctx) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      std::cerr << "attach_bench: the hub exited (status " << status << ")\n";
      pid_ = -1;
      return false;
    }
    if (inboxUsers(ctx) >= 0) return true;
  }
  return false;
}

uint64_t HubProcess::rssBytes() const {
  std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

int64_t HubProcess::inboxUsers(zmq::context_t& ctx) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.connect(appEndpoint());
  s.send(zmq::message_t(), zmq::send_flags::sndmore);
  s.send(zmq::buffer(std::string(R"({"op":"stats"})")), zmq::send_flags::none);
  zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, std::chrono::milliseconds(2000)) == 0) return -1;
  std::vector<zmq::message_t> frames;
  if (!zmq::recv_multipart(s, std::back_inserter(frames)) || frames.empty()) return -1;
  const std::string body = frames.back().to_string();
  const std::string key = "\"inbox_users\":";
  const size_t at = body.find(key);
  return at == std::string::npos ? -1 : std::stoll(body.substr(at + key.size()));
}

bool writeInboxes(zmq::context_t& ctx, const std::string& endpoint, size_t users) {
  constexpr size_t kWindow = 100;  // publishes in flight (the hub drops replies past its send HWM)
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.connect(endpoint);
  size_t sent = 0, acked = 0;
  while (acked < users) {
    for (; sent < users && sent - acked < kWindow; ++sent) {
      const std::string body = R"({"op":"pub","ch":"user:)" + std::to_string(1000000 + sent) + R"(","data":1})";
      s.send(zmq::message_t(), zmq::send_flags::sndmore);
      s.send(zmq::buffer(body), zmq::send_flags::none);
    }
    zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::seconds(10)) == 0) {
      std::cerr << "attach_bench: no answer to the inbox writes (" << acked << " of " << users << " acked)\n";
      return false;
    }
    std::vector<zmq::message_t> frames;
    while (zmq::recv_multipart(s, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
      if (frames.back().to_string().find(R"("ok":true)") == std::string::npos) {
        std::cerr << "attach_bench: an inbox write failed: " << frames.back().to_string() << "\n";
        return false;
      }
      ++acked;
      frames.clear();
    }
  }
  return true;
}

void Publisher::run() {
  zmq::socket_t s(ctx_, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.connect(endpoint_);
  std::map<uint64_t, std::pair<Clock::time_point, int>> inFlight;  // tag -> (sent, phase)
  std::array<std::vector<uint32_t>, kPhases> us;
  const auto start = Clock::now();
  const auto period = std::chrono::duration<double>(1.0 / rate_);
  uint64_t n = 0;
  auto stopAt = Clock::time_point::max();
  while (Clock::now() < stopAt && !(stop_.load() && inFlight.empty())) {
    if (stop_.load() && stopAt == Clock::time_point::max()) stopAt = Clock::now() + std::chrono::seconds(5);
    const auto due = start + std::chrono::duration_cast<Clock::duration>(period * static_cast<double>(n));
    if (!stop_.load() && Clock::now() >= due) {
      const uint64_t tag = ++n;
      const int phase = phase_.load();
      const std::string body = R"({"op":"pub","ch":"room:attach-bench","data":)" + std::to_string(tag) + "}";
      s.send(zmq::buffer(&tag, sizeof tag), zmq::send_flags::sndmore);
      s.send(zmq::message_t(), zmq::send_flags::sndmore);
      s.send(zmq::buffer(body), zmq::send_flags::none);
      inFlight.emplace(tag, std::make_pair(Clock::now(), phase));
      ++results_[static_cast<size_t>(phase)].sent;
      continue;
    }
    zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(1));
    std::vector<zmq::message_t> frames;
    while (zmq::recv_multipart(s, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
      uint64_t tag = 0;
      if (frames.size() == 3 && frames[0].size() == sizeof tag) std::memcpy(&tag, frames[0].data(), sizeof tag);
      auto it = inFlight.find(tag);
      if (it != inFlight.end()) {
        Latencies& l = results_[static_cast<size_t>(it->second.second)];
        if (frames[2].to_string().find(R"("ok":true)") == std::string::npos) {
          ++l.errors;
        } else {
          ++l.acked;
          us[static_cast<size_t>(it->second.second)].push_back(static_cast<uint32_t>(
              std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - it->second.first).count()));
        }
        inFlight.erase(it);
      }
      frames.clear();
    }
  }
  for (size_t p = 0; p < kPhases; ++p) {
    std::vector<uint32_t>& v = us[p];
    if (v.empty()) continue;
    std::sort(v.begin(), v.end());
    auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))] / 1000.0; };
    results_[p].p50ms = at(0.50);
    results_[p].p99ms = at(0.99);
    results_[p].maxms = v.back() / 1000.0;
  }
}

void printReport(const Args& a, const std::vector<HubRun>& runs) {
  std::printf("\nHub memory per attached user: %zu users (7-digit ids) over %zu fake frontends, chunks of <= %zu B",
              a.users, a.frontends, a.chunkBytes);
  if (a.written > 0) std::printf("; %zu of their inboxes written before a hub restart", a.written);
  std::printf("\n");
  std::printf("| hub | idle RSS MiB | attached RSS MiB | delta MiB | B/user | attach s | slowest chunk ms |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|\n");
  for (const HubRun& r : runs) {
    const double delta = static_cast<double>(r.rssAttached) - static_cast<double>(r.rssIdle);
    std::printf("| %s | %.1f | %.1f | %.1f | %.1f | %.2f | %.1f |\n", r.hub.c_str(), mib(r.rssIdle), mib(r.rssAttached),
                delta / (1024.0 * 1024.0), delta / static_cast<double>(a.users), r.attachSeconds,
                static_cast<double>(r.attachWorstChunkUs) / 1000.0);
  }
  std::printf("\nStorm: frontends holding %zu+ users restart (new boot id) and re-attach; publish->ack of one app at "
              "%.0f/s (--no-sync)\n", a.stormUsers, a.rate);
  std::printf("| hub | phase | publishes | p50 ms | p99 ms | max ms | storm users | storm s | slowest chunk ms |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const HubRun& r : runs) {
    for (size_t p : {size_t{0}, size_t{1}, size_t{3}}) {
      const Latencies& l = r.publishes[p];
      std::printf("| %s | %s | %lu | %.2f | %.2f | %.2f |", r.hub.c_str(), phaseName(p),
                  static_cast<unsigned long>(l.acked), l.p50ms, l.p99ms, l.maxms);
      if (p == 3) {
        std::printf(" %zu | %.2f | %.1f |\n", r.stormUsers, r.stormSeconds, static_cast<double>(r.stormWorstChunkUs) / 1000.0);
      } else {
        std::printf(" | | |\n");
      }
    }
  }
  std::fflush(stdout);
}

int checkRuns(const Args& a, const std::vector<HubRun>& runs) {
  int rc = 0;
  auto fail = [&](const HubRun& r, const std::string& what) {
    std::cerr << "attach_bench: FAIL " << r.hub << ": " << what << "\n";
    rc = 1;
  };
  for (const HubRun& r : runs) {
    if (!r.failure.empty()) fail(r, r.failure);
    const auto users = static_cast<int64_t>(a.users);
    if (r.usersAfterAttach != users) fail(r, "inbox_users after the attach is " + std::to_string(r.usersAfterAttach));
    if (r.usersAfterStorm != users) fail(r, "inbox_users after the storm is " + std::to_string(r.usersAfterStorm));
    if (r.attach.chunkErrors != 0) fail(r, std::to_string(r.attach.chunkErrors) + " attach chunks failed");
    uint64_t sent = 0, acked = 0;
    for (const Latencies& l : r.publishes) {
      sent += l.sent;
      acked += l.acked;
    }
    if (sent == 0 || acked != sent) fail(r, std::to_string(acked) + " of " + std::to_string(sent) + " publishes acked");
    if (rc == 0) std::cerr << "attach_bench: ok " << r.hub << ": " << users << " users attached, re-attached after the storm, " << acked << " publishes acked\n";
  }
  return rc;
}

}  // namespace webim::bench
