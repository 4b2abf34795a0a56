// pg_commit_bench: the PostgreSQL group commit alone, in the shapes of pg_commit_shapes.h, side by
// side on one throwaway server (pg_server.sh, --work-dir on a disk: the WAL flush is the point).
// For each round, batch size (messages per commit) and shape (the order rotating per round) it
// truncates the shape's tables, checkpoints, then commits batches back to back on one connection
// for --seconds, as the hub's loop does: 100-byte data, --channels channels, one dedup record per
// message (sender bench-<i % 256>, a unique cid), one meta per channel of the batch. Prints per
// shape and batch size commits/s, msgs/s, commit p50/p99, the client's CPU per commit (encoding +
// libpq) and the server backend's (from /proc), and with --stats the server's time per statement
// (pg_stat_statements, loaded for that run only: it costs a little). A benchmark: nothing asserted.
//
// Usage: pg_commit_bench --pg-script tests/integration/pg_server.sh --work-dir var/bench/store
//   [--batches 1,16,256,1024] [--shapes upsert,store,copy,...] [--seconds 2] [--rounds 2] [--stats]
//   [--channels 64] [--payload 100]
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "broadcast/postgres_batch.h"
#include "tests/bench/pg_commit_shapes.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using webim::hub::WriteSet;

namespace {

struct Args {
  std::string pgScript, workDir = "var/bench/store";
  std::vector<int> batches = {1, 16, 256, 1024};
  std::vector<std::string> shapes = webim::bench::shapeNames();
  double seconds = 2;
  int rounds = 2, channels = 64, payload = 100;
  bool stats = false;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string part; std::getline(ss, part, ',');)
    if (!part.empty()) out.push_back(part);
  return out;
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--stats") {
      a.stats = true;
      continue;
    }
    if (i + 1 >= argc) throw std::runtime_error("missing value for " + k);
    const std::string v = argv[++i];
    if (k == "--pg-script") a.pgScript = v;
    else if (k == "--work-dir") a.workDir = v;
    else if (k == "--batches") {
      a.batches.clear();
      for (const auto& b : split(v)) a.batches.push_back(std::stoi(b));
    } else if (k == "--shapes") a.shapes = split(v);
    else if (k == "--seconds") a.seconds = std::stod(v);
    else if (k == "--rounds") a.rounds = std::stoi(v);
    else if (k == "--channels") a.channels = std::stoi(v);
    else if (k == "--payload") a.payload = std::stoi(v);
    else throw std::runtime_error("unknown option " + k);
  }
  if (a.pgScript.empty()) throw std::runtime_error("--pg-script is required");
  return a;
}

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("cannot run " + cmd);
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  if (pclose(p) != 0) throw std::runtime_error(cmd + " failed: " + out);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// Batches as the hub writes them under bench-hub's load.
class Batches {
 public:
  Batches(int channels, int payload)
      : channels_(channels), data_("\"" + std::string(static_cast<size_t>(std::max(2, payload) - 2), 'x') + "\""),
        seqs_(static_cast<size_t>(channels), 0) {}
  WriteSet next(int n) {
    WriteSet w;
    std::map<int, uint64_t> last;
    const int64_t ts = 1796450000000 + static_cast<int64_t>(counter_);
    for (int i = 0; i < n; ++i, ++counter_) {
      const int c = static_cast<int>(counter_ % static_cast<uint64_t>(channels_));
      const std::string channel = "bench:" + std::to_string(c);
      const uint64_t seq = ++seqs_[static_cast<size_t>(c)];
      const std::string from = "bench-" + std::to_string(counter_ % 256);
      w.messages.push_back({channel, 1, seq, from, ts, data_});
      w.dedups.push_back({from, "c" + std::to_string(counter_), {channel, 1, seq, ts}});
      last[c] = seq;
    }
    for (const auto& [c, seq] : last) w.metas.push_back({"bench:" + std::to_string(c), {1, seq}});
    return w;
  }
  void reset() { std::fill(seqs_.begin(), seqs_.end(), 0); }

 private:
  int channels_;
  std::string data_;
  std::vector<uint64_t> seqs_;
  uint64_t counter_ = 0;
};

double threadCpuUs() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// utime + stime of a process, in microseconds (/proc/PID/stat, clock ticks).
double processCpuUs(const std::string& pid) {
  std::ifstream f("/proc/" + pid + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::istringstream rest(s.substr(s.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i)
    if (i >= 14) ticks += std::stod(field);
  return ticks * 1e6 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The store's encoding of one batch alone (commitArrays + every array's finish), microseconds.
double encodeUs(Batches& gen, int batch) {
  double total = 0;
  constexpr int kTimes = 50;
  for (int i = 0; i < kTimes; ++i) {
    WriteSet w = gen.next(batch);
    const auto t0 = Clock::now();
    webim::hub::pg::CommitArrays a = webim::hub::pg::commitArrays(w);
    for (auto* p : {&a.mChannel, &a.mSeq, &a.mEpoch, &a.mFrom, &a.mTs, &a.mData, &a.cChannel, &a.cEpoch, &a.cLast,
                    &a.dFrom, &a.dCid, &a.dChannel, &a.dEpoch, &a.dSeq, &a.dTs})
      p->finish();
    total += std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
  }
  return total / kTimes;
}

struct Row {
  std::string shape;
  int batch = 0;
  uint64_t commits = 0;
  double seconds = 0, clientCpuUs = 0, serverCpuUs = 0;
  std::vector<double> latUs;
};

double pct(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

std::string schemaOf(const std::string& shape) {
  std::string s = "s_" + shape;
  std::replace(s.begin(), s.end(), '-', '_');
  return s;
}

struct Server {
  std::string dir, dsn;
  std::string psql(const std::string& sql) const {
    return run("psql '" + dsn + "' -XAtqc \"" + sql + "\" 2>&1");
  }
};

void runOne(const Args& a, const Server& pg, webim::bench::CommitShape& shape, const std::string& name, int batch,
            Batches& gen, Row& row) {
  const std::string schema = schemaOf(name);
  pg.psql("TRUNCATE " + schema + ".webim_message, " + schema + ".webim_channel, " + schema + ".webim_dedup");
  gen.reset();
  pg.psql("CHECKPOINT");
  if (a.stats) pg.psql("SELECT pg_stat_statements_reset()");
  const std::string pid = pg.psql("SELECT pid FROM pg_stat_activity WHERE application_name = '" + schema + "'");
  const double server0 = processCpuUs(pid);
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(a.seconds);
  for (auto now = start; now < end;) {
    WriteSet w = gen.next(batch);
    const double cpu0 = threadCpuUs();
    shape.commit(w);
    row.clientCpuUs += threadCpuUs() - cpu0;
    const auto t = Clock::now();
    row.latUs.push_back(std::chrono::duration<double, std::micro>(t - now).count());
    now = t;
    ++row.commits;
  }
  row.seconds += std::chrono::duration<double>(Clock::now() - start).count();
  row.serverCpuUs += processCpuUs(pid) - server0;
  if (a.stats) {
    std::cout << "\n-- " << name << ", batch " << batch << ": pg_stat_statements (calls | mean ms | statement)\n"
              << pg.psql("SELECT calls, round(mean_exec_time::numeric, 3), left(regexp_replace(query, '\\s+', ' ', 'g'), 90) "
                         "FROM pg_stat_statements WHERE calls > 20 ORDER BY total_exec_time DESC LIMIT 6")
              << "\n";
  }
}

// Latency per commit is measured from the end of the previous commit (batch generation included,
// a few microseconds per message): the same for every shape.
void report(const std::vector<Row>& rows, const std::vector<std::string>& shapes, Batches& gen) {
  std::printf("\nThe store's encoding alone (commitArrays + finish), per commit:");
  for (const Row& r : rows)
    if (r.shape == shapes.front()) std::printf(" batch %d %.0f us;", r.batch, encodeUs(gen, r.batch));
  std::printf("\n");
  std::printf("\n| batch | shape | commits/s | msgs/s | vs first | p50 ms | p99 ms | client CPU us/commit | server CPU us/commit |\n"
              "|---:|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const Row& r : rows) {
    double base = 0;
    for (const Row& b : rows)
      if (b.batch == r.batch && b.shape == shapes.front()) base = static_cast<double>(b.commits) / b.seconds;
    const double rate = static_cast<double>(r.commits) / r.seconds;
    std::printf("| %d | %s | %.0f | %.0f | %.2f | %.2f | %.2f | %.0f | %.0f |\n", r.batch, r.shape.c_str(), rate,
                rate * r.batch, base > 0 ? rate / base : 0, pct(r.latUs, 0.5) / 1000, pct(r.latUs, 0.99) / 1000,
                r.clientCpuUs / static_cast<double>(r.commits), r.serverCpuUs / static_cast<double>(r.commits));
  }
}

}  // namespace

int main(int argc, char** argv) try {
  const Args a = parse(argc, argv);
  Server pg;
  pg.dir = (fs::absolute(a.workDir) / "pg-commit-bench").string();
  if (a.stats) setenv("WEBIM_PG_OPTS", "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all", 1);
  std::cerr << "pg_commit_bench: starting PostgreSQL in " << pg.dir << "\n";
  pg.dsn = run("'" + a.pgScript + "' start '" + pg.dir + "'");
  if (a.stats) pg.psql("CREATE EXTENSION pg_stat_statements");
  struct Stop {
    const Args& a;
    const Server& pg;
    ~Stop() {
      if (std::system(("'" + a.pgScript + "' stop '" + pg.dir + "'").c_str()) != 0) std::cerr << "pg_commit_bench: stopping the server failed\n";
    }
  } stop{a, pg};
  std::map<std::string, std::unique_ptr<webim::bench::CommitShape>> shapes;
  for (const std::string& s : a.shapes) {
    pg.psql("CREATE SCHEMA " + schemaOf(s));
    shapes[s] = webim::bench::makeShape(
        s, pg.dsn + " application_name=" + schemaOf(s) + " options='-c search_path=" + schemaOf(s) + "'");
  }
  std::vector<Row> rows;
  Batches gen(a.channels, a.payload);
  for (int round = 0; round < a.rounds; ++round) {
    for (int batch : a.batches) {
      for (size_t k = 0; k < a.shapes.size(); ++k) {
        const std::string& name = a.shapes[(k + static_cast<size_t>(round)) % a.shapes.size()];
        auto it = std::find_if(rows.begin(), rows.end(), [&](const Row& r) { return r.shape == name && r.batch == batch; });
        if (it == rows.end()) {
          it = rows.insert(rows.end(), Row{});
          it->shape = name;
          it->batch = batch;
        }
        runOne(a, pg, *shapes[name], name, batch, gen, *it);
        std::cerr << "pg_commit_bench: round " << round + 1 << " batch " << batch << " " << name << ": "
                  << it->commits << " commits so far\n";
      }
    }
  }
  std::sort(rows.begin(), rows.end(), [&](const Row& x, const Row& y) {
    if (x.batch != y.batch) return x.batch < y.batch;
    return std::find(a.shapes.begin(), a.shapes.end(), x.shape) < std::find(a.shapes.begin(), a.shapes.end(), y.shape);
  });
  report(rows, a.shapes, gen);
  shapes.clear();
  return 0;
} catch (const std::exception& e) {
  std::cerr << "pg_commit_bench: " << e.what() << "\n";
  return 1;
}
