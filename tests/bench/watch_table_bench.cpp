// watch_table_bench: the frontend's watchlist table (frontend/watch_table.h) against its pre-fix
// linear version (watch_table_linear.h), side by side in one run, no sockets. N connections each
// watch one popular user (and one user of their own); all are set, then all cleared in a shuffled
// order, then the same at N/100 connections: ms per phase, ns per connection, and the bytes held per
// (connection, user) pair. Then L lists of 1,000 users: bytes per pair. A benchmark, not a test;
// `--check` exits 1 unless the table's clear costs per connection at N stay within 10x of N/100
// (linear search: ~N/100 times more).
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

template <class Table>
Run popular(long n) {
  Table t;
  std::vector<int32_t> fds(static_cast<size_t>(n));
  for (long i = 0; i < n; ++i) fds[static_cast<size_t>(i)] = static_cast<int32_t>(i + 10);
  Run r;
  auto start = Clock::now();
  for (int32_t fd : fds) t.set(fd, {"star", "own" + std::to_string(fd)});
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

void row(const char* name, long n, const Run& r) {
  std::printf("| %s | %ld | %.1f | %.0f | %.1f | %.0f | %.2f |\n", name, n, r.setMs, r.setMs * 1e6 / n, r.clearMs,
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
  if (n < 100 || l < 1) return 2;
  std::printf("| table | connections | set ms | set ns/conn | clear ms | clear ns/conn | B/pair |\n"
              "|---|---:|---:|---:|---:|---:|---:|\n");
  const Run small = popular<webim::WatchTable>(n / 100);
  const Run big = popular<webim::WatchTable>(n);
  row("WatchTable", n / 100, small);
  row("WatchTable", n, big);
  row("pre-fix copy (linear search)", n / 100, popular<webim::LinearWatchTable>(n / 100));
  row("pre-fix copy (linear search)", n, popular<webim::LinearWatchTable>(n));
  std::printf("\n%ld lists of 1,000 users: WatchTable %.2f B/pair, pre-fix %.2f B/pair\n", l,
              lists<webim::WatchTable>(l), lists<webim::LinearWatchTable>(l));
  if (!check) return 0;
  const double ratio = (big.clearMs / n) / (small.clearMs / (n / 100));
  std::printf("check: clear per connection at %ld vs %ld: %.1fx (limit 10x)\n", n, n / 100, ratio);
  return ratio <= 10 ? 0 : 1;
}
