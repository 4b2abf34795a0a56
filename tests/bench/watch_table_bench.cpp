// watch_table_bench: the frontend's watchlist table (frontend/watch_table.h) against its pre-fix
// linear version (watch_table_linear.h), side by side in one run, no sockets. N connections each
// watch one popular user and one of their own ("star + own"), or two of their own ("two own"); all
// are set, then all cleared in a shuffled order: ms per phase, ns per connection, and the bytes
// held per (connection, user) pair (WatchTable::pairBytes: a user's 4 slots in its entry count as
// the entry's, not here). Then L lists of 1,000 users: bytes per pair. A benchmark, not a
// test; `--check` exits 1 unless clearing "star + own" costs at most 2x "two own" (a linear
// watcher search: ~N/2 comparisons per connection).
//   watch_table_bench [--connections N] [--lists L] [--check]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "frontend/watch_table.h"
#include "watch_table_linear.h"

using Clock = std::chrono::steady_clock;

namespace {

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct Run {
  double setMs = 0, clearMs = 0, bytesPerPair = 0;
};

// Each connection watches two users: "star" (everybody's) and one of its own, or two of its own.
template <class Table>
Run run(long n, bool star) {
  Table t;
  std::vector<int32_t> fds(static_cast<size_t>(n));
  for (long i = 0; i < n; ++i) fds[static_cast<size_t>(i)] = static_cast<int32_t>(i + 10);
  Run r;
  auto start = Clock::now();
  for (int32_t fd : fds) t.set(fd, {star ? std::string("star") : "alt" + std::to_string(fd), "own" + std::to_string(fd)});
  r.setMs = ms(Clock::now() - start);
  r.bytesPerPair = static_cast<double>(t.pairBytes()) / static_cast<double>(t.watches());
  std::shuffle(fds.begin(), fds.end(), std::mt19937(15));
  start = Clock::now();
  for (int32_t fd : fds) t.clear(fd);
  r.clearMs = ms(Clock::now() - start);
  if (t.watches() != 0) std::abort();
  return r;
}

template <class Table>
double lists(long l) {
  Table t;
  std::vector<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.push_back("m" + std::to_string(i));
  for (long i = 0; i < l; ++i) t.set(static_cast<int32_t>(i + 10), ids);
  return static_cast<double>(t.pairBytes()) / static_cast<double>(t.watches());
}

void row(const char* name, const char* load, long n, const Run& r) {
  std::printf("| %s | %s | %ld | %.1f | %.0f | %.1f | %.0f | %.2f |\n", name, load, n, r.setMs, r.setMs * 1e6 / n, r.clearMs,
              r.clearMs * 1e6 / n, r.bytesPerPair);
}

}  // namespace

int main(int argc, char** argv) {
  long n = 100000, l = 200;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--check")) {
      check = true;
    } else if (i + 1 < argc && !std::strcmp(argv[i], "--connections")) {
      n = std::atol(argv[++i]);
    } else if (i + 1 < argc && !std::strcmp(argv[i], "--lists")) {
      l = std::atol(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: watch_table_bench [--connections N] [--lists L] [--check]\n");
      return 2;
    }
  }
  if (n < 1 || l < 1) return 2;
  std::printf("| table | watched | connections | set ms | set ns/conn | clear ms | clear ns/conn | B/pair |\n"
              "|---|---|---:|---:|---:|---:|---:|---:|\n");
  const Run star = run<webim::WatchTable>(n, true);
  const Run spread = run<webim::WatchTable>(n, false);
  row("WatchTable", "star + own", n, star);
  row("WatchTable", "two own", n, spread);
  const Run oldStar = run<webim::LinearWatchTable>(n, true);
  const Run oldSpread = run<webim::LinearWatchTable>(n, false);
  row("pre-fix copy (linear search)", "star + own", n, oldStar);
  row("pre-fix copy (linear search)", "two own", n, oldSpread);
  std::printf("\n%ld lists of 1,000 users: WatchTable %.2f B/pair, pre-fix %.2f B/pair\n", l,
              lists<webim::WatchTable>(l), lists<webim::LinearWatchTable>(l));
  if (!check) return 0;
  const double ratio = star.clearMs / spread.clearMs;
  std::printf("check: clear with one user watched by all vs none shared: %.1fx (limit 2x; pre-fix copy %.1fx)\n",
              ratio, oldStar.clearMs / oldSpread.clearMs);
  return ratio <= 2 ? 0 : 1;
}
