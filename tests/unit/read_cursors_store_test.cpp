// The store contract for read cursors (HistoryStore::loadCursors, WriteSet::cursors) on both
// backends: absent is 0, a commit stores them, they survive a reopen, many are read at once in
// the order asked.
#include "tests/unit/store_test_support.h"

namespace {

STORE_TEST("read cursors: 0 when absent, stored with the batch, kept across a reopen, read many at once") {
  {
    auto opened = backend.open();
    HistoryStore& store = *opened;
    CHECK(store.loadCursors({{"room:1", "alice", 0}}) == std::vector<uint64_t>{0});
    CHECK(store.loadCursors({}).empty());
    WriteSet ws;
    ws.cursors = {{"room:1", "alice", 3}, {"room:1", "bob", 5}, {"dm:alice:bob", "alice", 7}};
    REQUIRE_NOTHROW(store.commit(ws, true));
    WriteSet later;
    later.cursors = {{"room:1", "alice", 4}};
    REQUIRE_NOTHROW(store.commit(later, true));
  }
  auto reopened = backend.open();
  HistoryStore& store = *reopened;
  const std::vector<ReadCursor> keys = {
      {"room:1", "bob", 0}, {"room:1", "alice", 0}, {"room:2", "alice", 0}, {"dm:alice:bob", "alice", 0}, {"room:1", "alice", 0}};
  CHECK(store.loadCursors(keys) == std::vector<uint64_t>{5, 4, 0, 7, 4});
  CHECK(store.countChannels() == 0);  // cursors are no channels
}

}  // namespace
