// The PostgreSQL store's connection: connect (+ schema migrations + prepared statements),
// reconnect with backoff, the undo of a batch of unknown outcome, one-shot reads and pipelined
// transactions. Every failure is a HistoryStoreError (history_store.h).
//
// Lost connection: the failing call throws (a read is retried once on a fresh connection first);
// the next call reconnects. A commit whose connection broke after it was sent has an unknown
// outcome: the hub answers `unavailable` and rolls its sequencer back, so before anything else
// the next call undoes that batch (postgres_undo.cpp; a no-op when the batch never landed). Until
// that succeeded every call fails.
//
// Reconnects are rate-limited: after a failed connect, calls fail fast for a backoff (100 ms
// doubling to 5 s) instead of blocking the hub's loop on every call.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "broadcast/dedup_filter.h"
#include "broadcast/history_store.h"
#include "broadcast/postgres_batch.h"
#include "broadcast/postgres_codec.h"
#include "broadcast/postgres_store.h"

namespace webim::hub::pg {

constexpr int kBinary = 1;

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

std::string_view field(const PGresult* r, int row, int col);
// libpq's message on one line ("\n\tIs the server running..." joined).
std::string oneLine(std::string_view raw);
// Durable commits on `conn`: synchronous_commit set to on unless the server already asks for more
// than a local flush (remote_apply, ...). Throws HistoryStoreError.
void requireDurableCommits(PGconn* conn);
uint64_t int8Field(const PGresult* r, int row, int col);  // throws HistoryStoreError on a bad size
int64_t wallMs();

class Session {
 public:
  explicit Session(PostgresStoreOptions options);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Connects; throws HistoryStoreError when the server cannot be reached, the schema cannot be
  // brought to this binary's version (or is newer) or a statement cannot be prepared.
  void connect();
  void disconnect();
  bool connectionBroken() const { return conn == nullptr || PQstatus(conn) != CONNECTION_OK; }
  std::string lastError() const;  // libpq's message on one line

  // Reconnects when needed and undoes an unknown-outcome batch; throws when either fails.
  void ready();
  // A read: one retry on a fresh connection when the connection was lost (reads are idempotent).
  Result query(const char* name, const Params& params);
  // One prepared statement, as is (the caller checks the result; ready() is the caller's too).
  Result execPrepared(const char* name, const Params& params);
  // A simple (non-prepared) command; throws on failure.
  void exec(const char* sql);

  // BEGIN, `body` (which sends statements and returns how many, or -1 on a send failure), COMMIT
  // in one pipeline. Returns "" on success, else the error (the transaction was rolled back or
  // its outcome is unknown, when the connection broke).
  std::string transaction(const std::function<int()>& body);
  bool sendPrepared(const char* name, const std::vector<const std::string*>& params);
  bool sendCommand(const char* sql);

  // The batch of a commit whose connection broke: undone before anything else (postgres_undo.cpp).
  void rememberUndo(const WriteSet& batch);
  void loadFilter();  // the dedup filter, from the dedup records younger than the TTL

  PostgresStoreOptions options;
  PGconn* conn = nullptr;
  DedupFilter filter;
  std::unique_ptr<UndoArrays> undo;
  uint64_t filterSkips = 0;
  uint64_t dedupQueries = 0;
  uint64_t roundTrips = 0;  // statements executed one at a time (execPrepared)
  uint64_t upsertRetries = 0;  // PostgresHistoryStore::upsertRetries
  std::string lastSqlState;  // of the last transaction()'s first error ("" when none or unknown)

 private:
  bool socketLooksDead();
  void reconnect();
  void runUndo();
  std::string drainPipeline(int expected);

  std::chrono::milliseconds connectBackoff_{0};
  std::chrono::steady_clock::time_point nextConnect_{};
  std::string connectError_;
};

}  // namespace webim::hub::pg
