// hub_bench: durable publishes per second through one webim-broadcast, and publish->ack latency.
// Run through scripts/bench-hub (which builds it). For each store (RocksDB in a temp dir; PostgreSQL
// on its own throwaway server started with pg_server.sh) it starts a hub on ipc:// endpoints, then
// for each publisher count runs P DEALER sockets on the frontend ingress, each with one Publish
// (FrontendRequest, 100-byte data, unique cid, channel bench:<i % 64>) in flight: the next one is
// sent when the ack (sent by the hub only after the group commit is durable) arrives. Counts acks
// during `--seconds` after a warm-up second; prints a table and writes JSON.
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
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "proto/webim.pb.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  std::string hub;
  std::string pgScript;
  std::vector<std::string> stores = {"rocksdb", "postgres"};
  std::vector<int> publishers = {1, 16, 256};
  double seconds = 5;
  double warmup = 1;
  int payload = 100;
  int channels = 64;
  std::string out = "var/bench";
  std::vector<std::string> hubArgs;  // extra flags for the hub (e.g. --max-batch 4096)
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string part; std::getline(ss, part, sep);)
    if (!part.empty()) out.push_back(part);
  return out;
}

[[noreturn]] void usage(const std::string& error) {
  if (!error.empty()) std::cerr << "hub_bench: " << error << "\n";
  std::cerr << "usage: hub_bench --hub PATH [--pg-script PATH] [--stores rocksdb,postgres]\n"
               "  [--publishers 1,16,256] [--seconds 5] [--warmup 1] [--payload 100] [--channels 64]\n"
               "  [--out DIR] [-- extra hub flags]\n";
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "--") {
      for (++i; i < argc; ++i) a.hubArgs.push_back(argv[i]);
      break;
    }
    if (i + 1 >= argc) usage("missing value for " + k);
    std::string v = argv[++i];
    if (k == "--hub") a.hub = v;
    else if (k == "--pg-script") a.pgScript = v;
    else if (k == "--stores") a.stores = split(v, ',');
    else if (k == "--publishers") {
      a.publishers.clear();
      for (auto& p : split(v, ',')) a.publishers.push_back(std::stoi(p));
    } else if (k == "--seconds") a.seconds = std::stod(v);
    else if (k == "--warmup") a.warmup = std::stod(v);
    else if (k == "--payload") a.payload = std::stoi(v);
    else if (k == "--channels") a.channels = std::stoi(v);
    else if (k == "--out") a.out = v;
    else usage("unknown option " + k);
  }
  if (a.hub.empty()) usage("--hub is required");
  return a;
}

std::string run(const std::string& cmd, int& rc) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) {
    rc = -1;
    return out;
  }
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = pclose(p);
  rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

pid_t startHub(const Args& a, const fs::path& dir, const std::string& store, const std::string& dsn) {
  std::vector<std::string> args = {a.hub,
                                   "--app-ingress", "ipc://" + (dir / "app").string(),
                                   "--hub-ingress", "ipc://" + (dir / "fe").string(),
                                   "--hub-pub", "ipc://" + (dir / "pub").string(),
                                   "--log-level", "warn",
                                   "--store", store};
  if (store == "postgres") {
    args.insert(args.end(), {"--pg-dsn", dsn});
  } else {
    args.insert(args.end(), {"--data", (dir / "data").string()});
  }
  args.insert(args.end(), a.hubArgs.begin(), a.hubArgs.end());
  pid_t pid = fork();
  if (pid == 0) {
    FILE* log = fopen((dir / "hub.log").c_str(), "w");
    if (log) dup2(fileno(log), 2);
    std::vector<char*> argv;
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// Waits until the app ingress answers a stats request.
bool waitReady(zmq::context_t& ctx, const fs::path& dir, pid_t pid) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return false;
    zmq::socket_t s(ctx, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 0);
    s.connect("ipc://" + (dir / "app").string());
    s.send(zmq::message_t(), zmq::send_flags::sndmore);
    s.send(zmq::buffer(std::string("{\"op\":\"stats\"}")), zmq::send_flags::none);
    zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(200)) > 0) return true;
  }
  return false;
}

struct Result {
  std::string store;
  int publishers = 0;
  uint64_t acks = 0;
  uint64_t errors = 0;
  double seconds = 0;
  double rate = 0;
  double p50us = 0, p99us = 0;
};

Result drive(zmq::context_t& ctx, const Args& a, const fs::path& dir, const std::string& store, int publishers,
             int round) {
  std::vector<zmq::socket_t> socks;
  std::vector<zmq::pollitem_t> items;
  std::vector<Clock::time_point> sentAt(publishers);
  std::vector<uint64_t> counter(publishers, 0);
  for (int i = 0; i < publishers; ++i) {
    socks.emplace_back(ctx, zmq::socket_type::dealer);
    socks.back().set(zmq::sockopt::linger, 0);
    socks.back().connect("ipc://" + (dir / "fe").string());
  }
  for (auto& s : socks) items.push_back({s.handle(), 0, ZMQ_POLLIN, 0});
  const std::string data = "\"" + std::string(static_cast<size_t>(std::max(2, a.payload) - 2), 'x') + "\"";
  webim::wire::FrontendRequest req;
  auto send = [&](int i) {
    req.Clear();
    req.set_req_id(++counter[i]);
    auto* pub = req.mutable_publish();
    pub->set_channel("bench:" + std::to_string(i % a.channels));
    pub->set_from("bench-" + std::to_string(i));
    pub->set_cid("r" + std::to_string(round) + "-" + std::to_string(i) + "-" + std::to_string(counter[i]));
    pub->set_data(data);
    sentAt[i] = Clock::now();
    socks[i].send(zmq::buffer(req.SerializeAsString()), zmq::send_flags::none);
  };
  for (int i = 0; i < publishers; ++i) send(i);

  const auto start = Clock::now();
  const auto measureFrom = start + std::chrono::duration<double>(a.warmup);
  const auto end = measureFrom + std::chrono::duration<double>(a.seconds);
  std::vector<uint32_t> latencies;
  latencies.reserve(4 << 20);
  Result r{store, publishers};
  webim::wire::HubReply reply;
  for (auto now = Clock::now(); now < end; now = Clock::now()) {
    zmq::poll(items.data(), items.size(), std::chrono::milliseconds(100));
    for (int i = 0; i < publishers; ++i) {
      if (!(items[i].revents & ZMQ_POLLIN)) continue;
      zmq::message_t m;
      while (socks[i].recv(m, zmq::recv_flags::dontwait)) {
        const auto t = Clock::now();
        reply.ParseFromArray(m.data(), static_cast<int>(m.size()));
        if (t >= measureFrom && t < end) {
          if (reply.has_error() || !reply.has_publish_ack()) {
            ++r.errors;
          } else {
            ++r.acks;
            latencies.push_back(static_cast<uint32_t>(
                std::chrono::duration_cast<std::chrono::microseconds>(t - sentAt[i]).count()));
          }
        }
        send(i);
      }
    }
  }
  r.seconds = a.seconds;
  r.rate = static_cast<double>(r.acks) / a.seconds;
  if (!latencies.empty()) {
    auto pct = [&](double q) {
      size_t k = std::min(latencies.size() - 1, static_cast<size_t>(q * static_cast<double>(latencies.size())));
      std::nth_element(latencies.begin(), latencies.begin() + static_cast<long>(k), latencies.end());
      return static_cast<double>(latencies[k]);
    };
    r.p50us = pct(0.50);
    r.p99us = pct(0.99);
  }
  // Let the in-flight requests finish so the next round starts from an idle hub.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  return r;
}

std::string syncPolicy(const std::string& store) {
  return store == "postgres"
             ? "one transaction per group commit, synchronous_commit=on, fsync=on (WAL flushed before the ack)"
             : "RocksDB WriteBatch per group commit with WriteOptions.sync=true (WAL fsync before the ack)";
}

}  // namespace

int main(int argc, char** argv) {
  Args a = parse(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  const fs::path work = fs::temp_directory_path() / ("webim-hub-bench-" + std::to_string(getpid()));
  fs::create_directories(work);
  zmq::context_t ctx(1);
  std::vector<Result> results;
  int round = 0;
  int rc = 0;
  for (const std::string& store : a.stores) {
    const fs::path dir = work / store;
    fs::create_directories(dir);
    std::string dsn;
    const fs::path pgDir = work / "pg";
    if (store == "postgres") {
      if (a.pgScript.empty()) usage("--pg-script is required for the postgres store");
      int src = 0;
      std::cerr << "hub_bench: starting a PostgreSQL server in " << pgDir << "\n";
      dsn = run("'" + a.pgScript + "' start '" + pgDir.string() + "'", src);
      if (src == 77) {
        std::cerr << "hub_bench: postgres binaries not found, skipping the postgres store\n";
        continue;
      }
      if (src != 0) {
        std::cerr << "hub_bench: pg_server.sh start failed\n";
        rc = 1;
        continue;
      }
    }
    pid_t hub = startHub(a, dir, store, dsn);
    if (!waitReady(ctx, dir, hub)) {
      std::cerr << "hub_bench: hub (" << store << ") did not start; log:\n";
      std::ifstream log(dir / "hub.log");
      std::cerr << log.rdbuf();
      kill(hub, SIGKILL);
      waitpid(hub, nullptr, 0);
      rc = 1;
      continue;
    }
    for (int p : a.publishers) {
      Result r = drive(ctx, a, dir, store, p, ++round);
      std::fprintf(stderr, "hub_bench: %-8s %4d publishers: %9.0f msg/s  p50 %6.2f ms  p99 %6.2f ms  (%lu errors)\n",
                   store.c_str(), p, r.rate, r.p50us / 1000, r.p99us / 1000, static_cast<unsigned long>(r.errors));
      results.push_back(r);
    }
    kill(hub, SIGTERM);
    waitpid(hub, nullptr, 0);
    if (store == "postgres") {
      int src = 0;
      run("'" + a.pgScript + "' stop '" + pgDir.string() + "'", src);
    }
  }
  std::error_code ec;
  fs::remove_all(work, ec);

  std::printf("\nDurable publishes through one hub (%d-byte data, %d channels, %.0f s per row after %.0f s warm-up)\n",
              a.payload, a.channels, a.seconds, a.warmup);
  std::printf("| store    | publishers |     msg/s | p50 ms | p99 ms | errors |\n");
  std::printf("|----------|-----------:|----------:|-------:|-------:|-------:|\n");
  for (const Result& r : results)
    std::printf("| %-8s | %10d | %9.0f | %6.2f | %6.2f | %6lu |\n", r.store.c_str(), r.publishers, r.rate,
                r.p50us / 1000, r.p99us / 1000, static_cast<unsigned long>(r.errors));
  std::printf("\nSync policy:\n");
  for (const std::string& store : a.stores) std::printf("  %-8s %s\n", store.c_str(), syncPolicy(store).c_str());

  fs::create_directories(a.out, ec);
  const auto stamp = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  const fs::path json = fs::path(a.out) / ("hub-bench-" + std::to_string(stamp) + ".json");
  std::ofstream out(json);
  out << "{\"payload_bytes\":" << a.payload << ",\"channels\":" << a.channels << ",\"seconds\":" << a.seconds
      << ",\"cores\":" << std::thread::hardware_concurrency() << ",\"hub_args\":[";
  for (size_t i = 0; i < a.hubArgs.size(); ++i) out << (i ? "," : "") << "\"" << a.hubArgs[i] << "\"";
  out << "],\"sync\":{";
  for (size_t i = 0; i < a.stores.size(); ++i)
    out << (i ? "," : "") << "\"" << a.stores[i] << "\":\"" << syncPolicy(a.stores[i]) << "\"";
  out << "},\"results\":[";
  for (size_t i = 0; i < results.size(); ++i) {
    const Result& r = results[i];
    out << (i ? "," : "") << "{\"store\":\"" << r.store << "\",\"publishers\":" << r.publishers
        << ",\"msgs_per_s\":" << static_cast<uint64_t>(r.rate) << ",\"acks\":" << r.acks << ",\"errors\":" << r.errors
        << ",\"p50_ms\":" << r.p50us / 1000 << ",\"p99_ms\":" << r.p99us / 1000 << "}";
  }
  out << "]}\n";
  std::printf("\nwrote %s\n", json.c_str());
  return rc;
}
