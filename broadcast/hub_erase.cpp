// Erasing a user (erase_job.h) in the hub: the app's erase_user / erase_status, one slice of the
// running jobs between batches, and the job list kept in the store so a restart resumes it.
#include <spdlog/spdlog.h>

#include <thread>

#include "broadcast/hub.h"
#include "common/failpoint.h"

namespace webim::hub {

namespace {

constexpr std::string_view kEraseJobsValue = "erase-jobs";  // HistoryStore::storeValue name
// Messages per slice: ~1 ms of store work on RocksDB, so a batch waits at most that long.
constexpr size_t kEraseSlice = 256;
constexpr uint32_t kSlicesPerSave = 16;        // the job list's progress is stored every so many slices
constexpr uint64_t kRemainingCap = 10'000'000;  // erase_status counts what is left up to this

}  // namespace

// At the start of a run: the jobs a previous run left unfinished go on.
void Hub::loadEraseJobs() {
  std::optional<std::string> saved = store_.loadValue(kEraseJobsValue);
  if (!saved || saved->empty()) return;
  eraseJobs_ = EraseJobs::parse(*saved);
  if (!eraseJobs_.empty()) spdlog::info("erase_user: resuming the unfinished jobs ({})", *eraseJobs_.next());
}

// Durable when it returns (a synced store write). Throws HistoryStoreError.
void Hub::saveEraseJobs() {
  store_.storeValue(kEraseJobsValue, eraseJobs_.serialize());
  eraseSlicesUnsaved_ = 0;
}

void Hub::stageErase(Request& r, const EraseUserRequest& erase) {
  const EraseJobs::Status before = eraseJobs_.status(erase.user);
  if (before.state == EraseJobs::State::Running) return;
  if (!eraseJobs_.start(erase.user)) {
    r.request = RequestError{"too_large", "too many erase_user jobs running (" + std::to_string(EraseJobs::kMaxRunning) + ")"};
    return;
  }
  try {
    saveEraseJobs();
  } catch (const HistoryStoreError& e) {
    // It runs in memory all the same (a retry finds it running); only a restart before the next
    // save of the list would forget it.
    r.request = RequestError{"unavailable", std::string("storing the job: ") + e.what()};
    return;
  }
  spdlog::info("erase_user {}: started", erase.user);
}

void Hub::answer(Request& r, const EraseUserRequest& erase) {
  replyApp(r, encodeEraseStatus(erase.user, eraseJobs_.status(erase.user), std::nullopt));
}

void Hub::answer(Request& r, const EraseStatusRequest& status) {
  std::optional<uint64_t> remaining;
  try {
    remaining = store_.countSender(status.user, kRemainingCap);
  } catch (const HistoryStoreError& e) {
    return replyError(r, "unavailable", e.what());
  }
  replyApp(r, encodeEraseStatus(status.user, eraseJobs_.status(status.user), remaining));
}

// One slice of the job next in turn. A store error leaves the job where it is; the jobs go on
// kEraseRetryDelay later (a full disk or an absent database must not spin the loop).
void Hub::eraseStep() {
  const std::string user = *eraseJobs_.next();
  // Tests: a slow erase (each slice takes 50 ms more), to stop the hub in the middle of a job.
  if (failpoint("hub.slow_erase")) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  HistoryStore::EraseSlice slice;
  try {
    if (failpoint("hub.erase_store_error")) throw HistoryStoreError("failpoint hub.erase_store_error");
    slice = store_.eraseSender(user, kEraseSlice);
  } catch (const HistoryStoreError& e) {
    spdlog::warn("erase_user {}: {} (tried again in {} s)", user, e.what(), kEraseRetryDelay.count());
    eraseRetryAt_ = std::chrono::steady_clock::now() + kEraseRetryDelay;
    return;
  }
  eraseJobs_.progress(slice.erased, slice.more);
  const bool finished = eraseJobs_.status(user).state == EraseJobs::State::Done;
  if (!finished && ++eraseSlicesUnsaved_ < kSlicesPerSave) return;
  try {
    saveEraseJobs();
  } catch (const HistoryStoreError& e) {
    spdlog::warn("erase_user: storing the jobs' progress: {}", e.what());
  }
  if (finished) spdlog::info("erase_user {}: done, {} messages erased", user, eraseJobs_.status(user).erased);
}

}  // namespace webim::hub
