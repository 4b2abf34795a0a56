// forget_bench: how long forgetting one frontend's users holds the hub's loop (InboxRouter, no
// sockets). U users (7-digit ids) dealt over F frontends; one frontend forgotten in one walk, then
// another in slices of the hub's size (Hub::kForgetSlots), several rounds. A benchmark, not a test.
//   forget_bench [--users U] [--frontends F] [--rounds R] [--slots S]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "broadcast/inbox_router.h"

using webim::hub::InboxRouter;
using Clock = std::chrono::steady_clock;

namespace {

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace

int main(int argc, char** argv) {
  long users = 1000000, frontends = 10, rounds = 3, slots = 65536;
  for (int i = 1; i + 1 < argc; i += 2) {
    long* out = !std::strcmp(argv[i], "--users")       ? &users
                : !std::strcmp(argv[i], "--frontends") ? &frontends
                : !std::strcmp(argv[i], "--rounds")    ? &rounds
                : !std::strcmp(argv[i], "--slots")     ? &slots
                                                       : nullptr;
    if (out == nullptr || (*out = std::atol(argv[i + 1])) <= 0) {
      std::fprintf(stderr, "usage: forget_bench [--users U] [--frontends F] [--rounds R] [--slots S]\n");
      return 2;
    }
  }
  if (frontends < 2) frontends = 2;
  std::printf("| round | one walk ms | slices | worst slice ms | slices total ms |\n|---:|---:|---:|---:|---:|\n");
  for (long round = 1; round <= rounds; ++round) {
    InboxRouter router;
    for (long k = 0; k < users; ++k) router.attach("fe" + std::to_string(k % frontends), std::to_string(1000000 + k));
    const auto start = Clock::now();
    router.forgetFrontend("fe0");
    router.finishForgetting();
    const double whole = ms(Clock::now() - start);
    router.forgetFrontend("fe1");
    double worst = 0;
    double total = 0;
    long count = 0;
    while (router.forgetting()) {
      const auto t = Clock::now();
      router.forgetStep(static_cast<size_t>(slots));
      const double d = ms(Clock::now() - t);
      worst = std::max(worst, d);
      total += d;
      ++count;
    }
    std::printf("| %ld | %.1f | %ld | %.2f | %.1f |\n", round, whole, count, worst, total);
  }
  return 0;
}
