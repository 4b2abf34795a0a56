// hub_bench: durable publishes per second through one webim-broadcast, and publish->ack latency.
// Run through scripts/bench-hub (which builds it). First it measures the disk under --work-dir:
// fdatasync p50/p99 of 4 KiB appends (and of 4 KiB overwrites of a preallocated file, which is what
// the hub's recycled WAL does). Then for each store (RocksDB in --work-dir; PostgreSQL on its own
// throwaway server there, started with pg_server.sh) and each binary (--old-hub first if given,
// then --hub) it starts a hub on ipc:// endpoints, and for each publisher count runs P DEALER
// sockets on the frontend ingress, each with one Publish (FrontendRequest, 100-byte data, unique
// cid, channel bench:<i % 64>) in flight: the next one is sent when the ack (sent by the hub only
// after the group commit is durable) arrives. Counts acks during `--seconds` after a warm-up
// second (and per --window seconds, for long runs); prints tables and writes JSON.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
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
  std::string oldHub;    // measured beside --hub in the same run (old first), "" = none
  std::string workDir;   // stores and the fdatasync probe; "" = the temp directory
  int fsyncProbes = 2000;
  double window = 0;     // > 0: ack latency per window of this many seconds, too
  int rounds = 0;        // per publisher count and binary; 0 = 2 with --old-hub, else 1
  std::string pgScript;
  std::vector<std::string> stores = {"rocksdb", "postgres"};
  std::vector<int> publishers = {1, 16, 256};
  double seconds = 5;
  double warmup = 1;
  int payload = 100;
  int channels = 64;
  std::string prefix = "bench:";  // --dm: dm:a<i>:b<i> (each message leaves two inbox notices)
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
  std::cerr << "usage: hub_bench --hub PATH [--old-hub PATH] [--work-dir DIR] [--pg-script PATH]\n"
               "  [--stores rocksdb,postgres] [--publishers 1,16,256] [--seconds 5] [--warmup 1] [--window S]\n"
               "  [--rounds N] [--payload 100] [--channels 64] [--channel-prefix bench: | dm] [--fsync-probes 2000] [--out DIR] [-- extra hub flags]\n";
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
    else if (k == "--old-hub") a.oldHub = v;
    else if (k == "--work-dir") a.workDir = v;
    else if (k == "--fsync-probes") a.fsyncProbes = std::stoi(v);
    else if (k == "--window") a.window = std::stod(v);
    else if (k == "--rounds") a.rounds = std::stoi(v);
    else if (k == "--pg-script") a.pgScript = v;
    else if (k == "--stores") a.stores = split(v, ',');
    else if (k == "--publishers") {
      a.publishers.clear();
      for (auto& p : split(v, ',')) a.publishers.push_back(std::stoi(p));
    } else if (k == "--seconds") a.seconds = std::stod(v);
    else if (k == "--warmup") a.warmup = std::stod(v);
    else if (k == "--payload") a.payload = std::stoi(v);
    else if (k == "--channels") a.channels = std::stoi(v);
    else if (k == "--channel-prefix") a.prefix = v;
    else if (k == "--out") a.out = v;
    else usage("unknown option " + k);
  }
  if (a.hub.empty()) usage("--hub is required");
  if (a.rounds <= 0) a.rounds = a.oldHub.empty() ? 1 : 2;
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

// Percentile q of `v` (reordered), in the unit of its elements; 0 when empty.
double percentile(std::vector<uint32_t>& v, double q) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return static_cast<double>(v[k]);
}

struct FsyncProbe {
  std::string mode;  // append | overwrite
  double p50us = 0, p99us = 0, maxUs = 0;
  int count = 0;
};

// `n` times: write 4 KiB (appended to the file, or over a preallocated one) and fdatasync it.
FsyncProbe probeFsync(const fs::path& dir, int n, bool overwrite) {
  FsyncProbe r;
  r.mode = overwrite ? "overwrite" : "append";
  const fs::path file = dir / ("fsync-probe-" + r.mode);
  int fd = ::open(file.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return r;
  std::string block(4096, 'w');
  if (overwrite) {  // the file's blocks exist and are on disk: a sync has no size or extent to journal
    for (int i = 0; i < n; ++i)
      if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) break;
    ::fsync(fd);
    ::lseek(fd, 0, SEEK_SET);
  }
  std::vector<uint32_t> lat;
  lat.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size()) || ::fdatasync(fd) != 0) break;
    lat.push_back(static_cast<uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count()));
  }
  ::close(fd);
  fs::remove(file);
  r.count = static_cast<int>(lat.size());
  if (!lat.empty()) r.maxUs = *std::max_element(lat.begin(), lat.end());
  r.p50us = percentile(lat, 0.50);
  r.p99us = percentile(lat, 0.99);
  return r;
}

pid_t startHub(const Args& a, const std::string& binary, const fs::path& dir, const std::string& store,
               const std::string& dsn) {
  std::vector<std::string> args = {binary,
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

struct Window {
  double startS = 0;
  uint64_t acks = 0;
  double p50us = 0, p99us = 0, maxUs = 0;
};

struct Result {
  std::string store;
  std::string hub;  // new | old
  int publishers = 0;
  uint64_t acks = 0;
  uint64_t errors = 0;
  double seconds = 0;
  double rate = 0;
  double p50us = 0, p99us = 0;
  std::vector<Window> windows;
  int rep = 0;  // round (in a summary row: how many rounds it averages)
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
    const std::string n = std::to_string(i % a.channels);
    pub->set_channel(a.prefix == "dm" ? "dm:a" + n + ":b" + n : a.prefix + n);
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
  const size_t windowCount = a.window > 0 ? static_cast<size_t>(std::ceil(a.seconds / a.window)) : 0;
  std::vector<std::vector<uint32_t>> perWindow(windowCount);
  Result r;
  r.store = store;
  r.publishers = publishers;
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
            const auto us = static_cast<uint32_t>(
                std::chrono::duration_cast<std::chrono::microseconds>(t - sentAt[i]).count());
            latencies.push_back(us);
            if (windowCount > 0) {
              const auto w = static_cast<size_t>(std::chrono::duration<double>(t - measureFrom).count() / a.window);
              perWindow[std::min(w, windowCount - 1)].push_back(us);
            }
          }
        }
        send(i);
      }
    }
  }
  r.seconds = a.seconds;
  r.rate = static_cast<double>(r.acks) / a.seconds;
  r.p50us = percentile(latencies, 0.50);
  r.p99us = percentile(latencies, 0.99);
  for (size_t w = 0; w < windowCount; ++w) {
    std::vector<uint32_t>& v = perWindow[w];
    Window win;
    win.startS = static_cast<double>(w) * a.window;
    win.acks = v.size();
    if (!v.empty()) win.maxUs = *std::max_element(v.begin(), v.end());
    win.p50us = percentile(v, 0.50);
    win.p99us = percentile(v, 0.99);
    r.windows.push_back(win);
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

// A PostgreSQL server in `pgDir` (pg_server.sh); "" when skipped or failed (`rc` set on failure).
std::string startPostgres(const Args& a, const fs::path& pgDir, int& rc) {
  if (a.pgScript.empty()) usage("--pg-script is required for the postgres store");
  int src = 0;
  std::cerr << "hub_bench: starting a PostgreSQL server in " << pgDir << "\n";
  std::string dsn = run("'" + a.pgScript + "' start '" + pgDir.string() + "'", src);
  if (src == 77) {
    std::cerr << "hub_bench: postgres binaries not found, skipping the postgres store\n";
    return {};
  }
  if (src != 0) {
    std::cerr << "hub_bench: pg_server.sh start failed\n";
    rc = 1;
    return {};
  }
  return dsn;
}

// Each binary its own database on the one server: the old hub never sees the new one's schema.
std::string databaseFor(const std::string& dsn, const std::string& label) {
  int src = 0;
  run("psql '" + dsn + "' -qc 'CREATE DATABASE bench_" + label + "' 2>&1", src);
  if (src != 0) return dsn;  // no psql: both hubs share the database `postgres`
  return dsn + " dbname=bench_" + label;  // a later keyword wins in a libpq connection string
}

struct RunningHub {
  std::string label;
  fs::path dir;
  pid_t pid = -1;
};

// One store: every binary's hub up at once (each its own store), then for each publisher count
// `rounds` rounds alternating the order (old new, new old, ...), so that the load of the machine
// drifting during the run falls on both alike. False if a hub did not start.
bool benchStore(zmq::context_t& ctx, const Args& a, const fs::path& work, const std::string& store,
                const std::vector<std::pair<std::string, std::string>>& binaries, const std::string& dsn, int& round,
                std::vector<Result>& results) {
  std::vector<RunningHub> hubs;
  bool ok = true;
  for (const auto& [label, binary] : binaries) {
    RunningHub h{label, work / (store + "-" + label)};
    fs::create_directories(h.dir);
    h.pid = startHub(a, binary, h.dir, store, store == "postgres" ? databaseFor(dsn, label) : dsn);
    if (!waitReady(ctx, h.dir, h.pid)) {
      std::cerr << "hub_bench: hub (" << store << ", " << label << ") did not start; log:\n";
      std::ifstream log(h.dir / "hub.log");
      std::cerr << log.rdbuf();
      kill(h.pid, SIGKILL);
      waitpid(h.pid, nullptr, 0);
      ok = false;
      continue;
    }
    hubs.push_back(h);
  }
  for (int p : a.publishers) {
    for (int rep = 0; rep < a.rounds; ++rep) {
      for (size_t k = 0; k < hubs.size(); ++k) {
        const RunningHub& h = hubs[rep % 2 == 0 ? k : hubs.size() - 1 - k];
        Result r = drive(ctx, a, h.dir, store, p, ++round);
        r.hub = h.label;
        r.rep = rep;
        std::fprintf(stderr,
                     "hub_bench: %-8s %-3s %4d publishers (round %d): %9.0f msg/s  p50 %6.2f ms  p99 %6.2f ms  (%lu errors)\n",
                     store.c_str(), h.label.c_str(), p, rep + 1, r.rate, r.p50us / 1000, r.p99us / 1000,
                     static_cast<unsigned long>(r.errors));
        results.push_back(std::move(r));
      }
    }
  }
  for (const RunningHub& h : hubs) {
    kill(h.pid, SIGTERM);
    waitpid(h.pid, nullptr, 0);
  }
  return ok;
}

// The rounds of each (store, hub, publishers) as one row: acks and errors summed, msg/s and the
// percentiles the mean of the rounds', the windows of the first round.
std::vector<Result> summarize(const std::vector<Result>& rounds) {
  std::vector<Result> rows;
  for (const Result& r : rounds) {
    auto it = std::find_if(rows.begin(), rows.end(), [&](const Result& x) {
      return x.store == r.store && x.hub == r.hub && x.publishers == r.publishers;
    });
    if (it == rows.end()) {
      rows.push_back(r);
      rows.back().rep = 1;
      continue;
    }
    const double n = it->rep;
    it->acks += r.acks;
    it->errors += r.errors;
    it->seconds += r.seconds;
    it->rate = (it->rate * n + r.rate) / (n + 1);
    it->p50us = (it->p50us * n + r.p50us) / (n + 1);
    it->p99us = (it->p99us * n + r.p99us) / (n + 1);
    it->rep += 1;
  }
  return rows;
}

const Result* find(const std::vector<Result>& results, const std::string& store, const std::string& hub, int p) {
  for (const Result& r : results)
    if (r.store == store && r.hub == hub && r.publishers == p) return &r;
  return nullptr;
}

void printTables(const Args& a, const std::vector<FsyncProbe>& probes, const std::vector<Result>& results) {
  std::printf("\nDisk under the stores (%s): 4 KiB write + fdatasync, %d times\n", a.workDir.c_str(), a.fsyncProbes);
  for (const FsyncProbe& f : probes)
    std::printf("  %-9s p50 %7.3f ms  p99 %7.3f ms  max %7.3f ms\n", f.mode.c_str(), f.p50us / 1000, f.p99us / 1000,
                f.maxUs / 1000);
  std::printf("\nDurable publishes through one hub (%d-byte data, %d channels, %.0f s per round after %.0f s warm-up,"
              " %d round(s) per row: msg/s and percentiles are the mean of the rounds')\n",
              a.payload, a.channels, a.seconds, a.warmup, a.rounds);
  if (a.oldHub.empty()) {
    std::printf("| store    | publishers |     msg/s | p50 ms | p99 ms | errors |\n");
    std::printf("|----------|-----------:|----------:|-------:|-------:|-------:|\n");
    for (const Result& r : results)
      std::printf("| %-8s | %10d | %9.0f | %6.2f | %6.2f | %6lu |\n", r.store.c_str(), r.publishers, r.rate,
                  r.p50us / 1000, r.p99us / 1000, static_cast<unsigned long>(r.errors));
  } else {
    std::printf("old: %s\nnew: %s\n", a.oldHub.c_str(), a.hub.c_str());
    std::printf("| store    | publishers | old msg/s | new msg/s | new/old | old p50 | new p50 | old p99 | new p99 | p99 new/old |\n");
    std::printf("|----------|-----------:|----------:|----------:|--------:|--------:|--------:|--------:|--------:|------------:|\n");
    for (const Result& n : results) {
      if (n.hub != "new") continue;
      const Result* o = find(results, n.store, "old", n.publishers);
      if (!o) continue;
      std::printf("| %-8s | %10d | %9.0f | %9.0f | %7.2f | %7.2f | %7.2f | %7.2f | %7.2f | %11.2f |\n", n.store.c_str(),
                  n.publishers, o->rate, n.rate, o->rate > 0 ? n.rate / o->rate : 0, o->p50us / 1000, n.p50us / 1000,
                  o->p99us / 1000, n.p99us / 1000, o->p99us > 0 ? n.p99us / o->p99us : 0);
    }
  }
  if (a.window > 0) {
    std::printf("\nAck latency per %.0f s window\n| store    | hub | publishers | from s |  acks/s | p50 ms | p99 ms | max ms |\n"
                "|----------|-----|-----------:|-------:|--------:|-------:|-------:|-------:|\n", a.window);
    for (const Result& r : results)
      for (const Window& w : r.windows)
        std::printf("| %-8s | %-3s | %10d | %6.0f | %7.0f | %6.2f | %6.2f | %6.2f |\n", r.store.c_str(), r.hub.c_str(),
                    r.publishers, w.startS, static_cast<double>(w.acks) / std::min(a.window, a.seconds - w.startS), w.p50us / 1000, w.p99us / 1000,
                    w.maxUs / 1000);
  }
  std::printf("\nSync policy:\n");
  for (const std::string& store : a.stores) std::printf("  %-8s %s\n", store.c_str(), syncPolicy(store).c_str());
}

void writeResults(std::ofstream& out, const std::vector<Result>& results, const char* repKey) {
  for (size_t i = 0; i < results.size(); ++i) {
    const Result& r = results[i];
    out << (i ? "," : "") << "{\"store\":\"" << r.store << "\",\"hub\":\"" << r.hub << "\",\"publishers\":"
        << r.publishers << ",\"msgs_per_s\":" << static_cast<uint64_t>(r.rate) << ",\"acks\":" << r.acks
        << ",\"errors\":" << r.errors << ",\"p50_ms\":" << r.p50us / 1000 << ",\"p99_ms\":" << r.p99us / 1000
        << ",\"" << repKey << "\":" << r.rep << ",\"windows\":[";
    for (size_t w = 0; w < r.windows.size(); ++w)
      out << (w ? "," : "") << "{\"from_s\":" << r.windows[w].startS << ",\"acks\":" << r.windows[w].acks
          << ",\"p50_ms\":" << r.windows[w].p50us / 1000 << ",\"p99_ms\":" << r.windows[w].p99us / 1000
          << ",\"max_ms\":" << r.windows[w].maxUs / 1000 << "}";
    out << "]}";
  }
}

// `results`: one row per (store, hub, publishers), the mean of its rounds; `rounds`: each round.
std::string writeJson(const Args& a, const std::vector<FsyncProbe>& probes, const std::vector<Result>& results,
                      const std::vector<Result>& rounds) {
  std::error_code ec;
  fs::create_directories(a.out, ec);
  const auto stamp = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  const fs::path json = fs::path(a.out) / ("hub-bench-" + std::to_string(stamp) + ".json");
  std::ofstream out(json);
  out << "{\"payload_bytes\":" << a.payload << ",\"channels\":" << a.channels << ",\"seconds\":" << a.seconds
      << ",\"cores\":" << std::thread::hardware_concurrency() << ",\"work_dir\":\"" << a.workDir
      << "\",\"hub\":\"" << a.hub << "\",\"old_hub\":\"" << a.oldHub << "\",\"hub_args\":[";
  for (size_t i = 0; i < a.hubArgs.size(); ++i) out << (i ? "," : "") << "\"" << a.hubArgs[i] << "\"";
  out << "],\"fdatasync_4k\":{";
  for (size_t i = 0; i < probes.size(); ++i)
    out << (i ? "," : "") << "\"" << probes[i].mode << "\":{\"n\":" << probes[i].count << ",\"p50_ms\":"
        << probes[i].p50us / 1000 << ",\"p99_ms\":" << probes[i].p99us / 1000 << ",\"max_ms\":" << probes[i].maxUs / 1000
        << "}";
  out << "},\"sync\":{";
  for (size_t i = 0; i < a.stores.size(); ++i)
    out << (i ? "," : "") << "\"" << a.stores[i] << "\":\"" << syncPolicy(a.stores[i]) << "\"";
  out << "},\"rounds_per_row\":" << a.rounds << ",\"results\":[";
  writeResults(out, results, "rounds");
  out << "],\"rounds\":[";
  writeResults(out, rounds, "round");
  out << "]}\n";
  return json.string();
}

}  // namespace

int main(int argc, char** argv) {
  Args a = parse(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  if (a.workDir.empty()) a.workDir = fs::temp_directory_path().string();
  const fs::path work = fs::path(a.workDir) / ("webim-hub-bench-" + std::to_string(getpid()));
  fs::create_directories(work);
  std::vector<FsyncProbe> probes;
  if (a.fsyncProbes > 0)
    for (bool overwrite : {false, true}) probes.push_back(probeFsync(work, a.fsyncProbes, overwrite));
  zmq::context_t ctx(1);
  std::vector<Result> results;
  std::vector<std::pair<std::string, std::string>> hubs;  // label, binary: the old one first
  if (!a.oldHub.empty()) hubs.emplace_back("old", a.oldHub);
  hubs.emplace_back("new", a.hub);
  int round = 0;
  int rc = 0;
  for (const std::string& store : a.stores) {
    std::string dsn;
    const fs::path pgDir = work / "pg";
    if (store == "postgres" && (dsn = startPostgres(a, pgDir, rc)).empty()) continue;
    if (!benchStore(ctx, a, work, store, hubs, dsn, round, results)) rc = 1;
    if (store == "postgres") {
      int src = 0;
      run("'" + a.pgScript + "' stop '" + pgDir.string() + "'", src);
    }
  }
  std::error_code ec;
  fs::remove_all(work, ec);
  const std::vector<Result> rows = summarize(results);
  printTables(a, probes, rows);
  std::printf("\nwrote %s\n", writeJson(a, probes, rows, results).c_str());
  return rc;
}
