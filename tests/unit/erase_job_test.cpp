// Erasing a user: the job list (erase_job.h: round robin, done, persisted form, status JSON) and the
// stores' per-sender index and slices (HistoryStore::eraseSender / countSender), on RocksDB and,
// tagged [postgres], on PostgreSQL (tests/integration/postgres.cmake).
#include <catch2/catch.hpp>

#include "broadcast/erase_job.h"
#include "tests/unit/store_test_support.h"

using namespace webim::hub;

TEST_CASE("EraseJobs: round robin over running jobs, done when a slice finds no more, survives its text form",
          "[erase_job]") {
  EraseJobs jobs;
  CHECK(jobs.empty());
  CHECK(jobs.status("a").state == EraseJobs::State::None);
  REQUIRE(jobs.start("a"));
  REQUIRE(jobs.start("b"));
  REQUIRE(jobs.start("a"));  // already running: goes on
  CHECK(*jobs.next() == "a");
  jobs.progress(256, true);
  CHECK(*jobs.next() == "b");
  jobs.progress(3, false);
  CHECK(jobs.status("b").state == EraseJobs::State::Done);
  CHECK(jobs.status("b").erased == 3);
  CHECK(*jobs.next() == "a");

  EraseJobs resumed = EraseJobs::parse(jobs.serialize() + "bad line\nc\tnot a number\n");
  CHECK(*resumed.next() == "a");
  CHECK(resumed.status("a").erased == 256);
  CHECK(resumed.status("b").state == EraseJobs::State::None);  // done jobs are not persisted
  resumed.progress(10, false);
  CHECK(resumed.empty());
  CHECK(resumed.status("a").erased == 266);
  CHECK(encodeEraseStatus("a", resumed.status("a"), 0) == R"({"ok":true,"user":"a","state":"done","erased":266,"remaining":0})");

  CHECK(EraseJobs::validUser("42"));
  CHECK_FALSE(EraseJobs::validUser(""));
  CHECK_FALSE(EraseJobs::validUser("a\tb"));
  CHECK_FALSE(EraseJobs::validUser(std::string(129, 'x')));
}

TEST_CASE("EraseJobs: at most kMaxRunning at once, and a bounded memory of finished ones", "[erase_job]") {
  EraseJobs jobs;
  for (size_t i = 0; i < EraseJobs::kMaxRunning; ++i) REQUIRE(jobs.start("u" + std::to_string(i)));
  CHECK_FALSE(jobs.start("one-more"));
  CHECK(jobs.status("one-more").state == EraseJobs::State::None);
  for (size_t i = 0; i < EraseJobs::kMaxRunning; ++i) jobs.progress(0, false);
  CHECK(jobs.empty());
  REQUIRE(jobs.start("one-more"));
  jobs.progress(0, false);
  CHECK(jobs.status("u0").state == EraseJobs::State::None);  // the oldest finished one was forgotten
  CHECK(jobs.status("one-more").state == EraseJobs::State::Done);
}

STORE_TEST("the per-sender index: eraseSender removes one sender's data in slices, countSender what is left") {
  auto opened = backend.open();
  HistoryStore& store = *opened;
  constexpr uint64_t kEpoch = 7;
  WriteSet ws;
  for (uint64_t seq = 1; seq <= 10; ++seq) {
    for (const char* ch : {"room:a", "dm:x:y"}) {
      const std::string from = seq % 2 == 0 ? "zed" : "amy";
      ws.messages.push_back(StoredMessage{ch, kEpoch, seq, from, 1000, "\"m" + std::to_string(seq) + "\""});
    }
  }
  ws.metas = {{"room:a", {kEpoch, 10}}, {"dm:x:y", {kEpoch, 10}}};
  ws.redactions = {{"room:a", 2}};  // already deleted: not counted, not erased again
  store.commit(ws, true);
  CHECK(store.countSender("zed", 100) == 9);
  CHECK(store.countSender("zed", 4) == 4);
  CHECK(store.countSender("nobody", 100) == 0);

  uint64_t erased = 0;
  HistoryStore::EraseSlice slice;
  size_t slices = 0;
  do {
    slice = store.eraseSender("zed", 4);
    erased += slice.erased;
    ++slices;
  } while (slice.more && slices < 10);
  CHECK(erased == 9);
  CHECK(store.countSender("zed", 100) == 0);
  CHECK(store.countSender("amy", 100) == 10);
  for (const char* ch : {"room:a", "dm:x:y"}) {
    HistoryPage page = store.readPage(ch, {0, 0, 20, 1 << 20});
    REQUIRE(page.msgs.size() == 10);
    for (const StoredMessage& m : page.msgs) {
      CHECK(m.deleted == (m.from == "zed"));
      CHECK(m.data.empty() == (m.from == "zed"));
    }
  }
  CHECK(store.eraseSender("zed", 4).erased == 0);
}
