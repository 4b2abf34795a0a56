#include <catch2/catch.hpp>

#include <poll.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "broadcast/sync_worker.h"

using namespace webim::hub;
using namespace std::chrono_literals;

namespace {

bool readable(int fd, int timeoutMs) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeoutMs) == 1;
}

// A sync that blocks until released, counting its calls.
struct GatedSync {
  std::mutex mutex;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> calls{0};
  std::atomic<bool> fail{false};
  void operator()() {
    ++calls;
    std::unique_lock lock(mutex);
    cv.wait(lock, [this] { return open; });
    if (fail) throw std::runtime_error("disk gone");
  }
  void release() {
    {
      std::lock_guard lock(mutex);
      open = true;
    }
    cv.notify_all();
  }
};

}  // namespace

TEST_CASE("one sync covers every ticket asked for while the previous one ran", "[sync_worker]") {
  GatedSync gate;
  SyncWorker worker([&] { gate(); });
  CHECK(worker.take().durable == 0);
  CHECK_FALSE(readable(worker.fd(), 0));
  worker.request(1);
  while (gate.calls < 1) std::this_thread::sleep_for(1ms);
  worker.request(2);  // while ticket 1 syncs
  worker.request(3);
  worker.request(3);  // asked twice: nothing more
  gate.release();
  SyncWorker::Result result = worker.wait(0);
  while (result.durable < 3) result = worker.wait(result.durable);
  CHECK(result.failed == 0);
  CHECK(gate.calls == 2);  // ticket 1, then 2 and 3 together
  CHECK(worker.syncs() == 2);
  worker.waitIdle();
  (void)worker.take();
  CHECK_FALSE(readable(worker.fd(), 0));  // drained by take()
}

TEST_CASE("a failed sync is reported once, with its ticket and error; later tickets start afresh", "[sync_worker]") {
  GatedSync gate;
  gate.fail = true;
  SyncWorker worker([&] { gate(); });
  worker.request(1);
  gate.release();
  REQUIRE(readable(worker.fd(), 5000));
  SyncWorker::Result result = worker.take();
  CHECK(result.failed == 1);
  CHECK(result.error == "disk gone");
  CHECK(worker.take().failed == 0);  // taken
  gate.fail = false;
  worker.request(2);
  result = worker.wait(1);
  CHECK(result.failed == 0);
  CHECK(result.durable == 2);
}

TEST_CASE("the destructor finishes the sync under way", "[sync_worker]") {
  GatedSync gate;
  std::thread opener;
  {
    SyncWorker worker([&] { gate(); });
    worker.request(1);
    while (gate.calls < 1) std::this_thread::sleep_for(1ms);
    opener = std::thread([&] {
      std::this_thread::sleep_for(20ms);
      gate.release();
    });
  }  // returns once the sync under way is done
  opener.join();
  CHECK(gate.calls == 1);
}

TEST_CASE("after a failed sync nothing more is synced until the failure is taken", "[sync_worker]") {
  GatedSync gate;
  gate.fail = true;
  SyncWorker worker([&] { gate(); });
  worker.request(1);
  while (gate.calls < 1) std::this_thread::sleep_for(1ms);
  worker.request(2);  // while ticket 1 fails
  gate.release();
  REQUIRE(readable(worker.fd(), 5000));
  std::this_thread::sleep_for(50ms);
  CHECK(gate.calls == 1);  // paused: `durable` of the result is what was durable before the failure
  gate.fail = false;
  SyncWorker::Result result = worker.take();
  CHECK(result.durable == 0);
  CHECK(result.failed == 1);
  worker.waitIdle();  // ticket 2 runs now
  CHECK(gate.calls == 2);
  CHECK(worker.take().durable == 2);
}
