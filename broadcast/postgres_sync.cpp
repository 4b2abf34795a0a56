#include "broadcast/postgres_sync.h"

#include <memory>

#include "broadcast/history_store.h"

namespace webim::hub::pg {

namespace {

struct ResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Owned = std::unique_ptr<PGresult, ResultFree>;

constexpr const char* kSyncWrite =
    "INSERT INTO webim_store (name, value) VALUES ('sync:' || pg_backend_pid(), '\\x') "
    "ON CONFLICT (name) DO UPDATE SET value = excluded.value";

std::string oneLine(const char* message) {
  std::string out;
  for (const char* c = message; c && *c; ++c) out.push_back(*c == '\n' || *c == '\t' ? ' ' : *c);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out.empty() ? "unknown PostgreSQL error" : out;
}

}  // namespace

SyncConnection::~SyncConnection() { drop(); }

void SyncConnection::drop() {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
}

void SyncConnection::connect() {
  drop();
  conn_ = PQconnectdb(dsn_.c_str());
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string error = "postgres sync connection: " + oneLine(PQerrorMessage(conn_));
    drop();
    throw HistoryStoreError(error);
  }
  // As the store's own connection: on, unless the server already asks for more (remote_apply...).
  Owned level(PQexec(conn_, "SHOW synchronous_commit"));
  std::string current = PQresultStatus(level.get()) == PGRES_TUPLES_OK ? PQgetvalue(level.get(), 0, 0) : "";
  if (current.empty() || current == "off" || current == "local") {
    Owned set(PQexec(conn_, "SET synchronous_commit TO on"));
    if (PQresultStatus(set.get()) != PGRES_COMMAND_OK) {
      std::string error = "postgres sync connection: " + oneLine(PQresultErrorMessage(set.get()));
      drop();
      throw HistoryStoreError(error);
    }
  }
}

void SyncConnection::sync() {
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) connect();
  Owned r(PQexec(conn_, kSyncWrite));
  if (PQresultStatus(r.get()) == PGRES_COMMAND_OK) return;
  std::string error = "postgres WAL sync: " + oneLine(r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn_));
  drop();
  throw HistoryStoreError(error);
}

}  // namespace webim::hub::pg
