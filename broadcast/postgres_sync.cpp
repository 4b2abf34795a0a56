#include "broadcast/postgres_sync.h"

#include "broadcast/postgres_session.h"

namespace webim::hub::pg {

namespace {

constexpr const char* kSyncWrite =
    "INSERT INTO webim_store (name, value) VALUES ('sync:' || pg_backend_pid(), '\\x') "
    "ON CONFLICT (name) DO UPDATE SET value = excluded.value";

}  // namespace

SyncConnection::~SyncConnection() { drop(); }

void SyncConnection::drop() {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
}

void SyncConnection::connect() {
  drop();
  conn_ = PQconnectdb(dsn_.c_str());
  try {
    if (PQstatus(conn_) != CONNECTION_OK) throw HistoryStoreError(oneLine(PQerrorMessage(conn_)));
    requireDurableCommits(conn_);  // as the store's own connection
  } catch (const HistoryStoreError& e) {
    drop();
    throw HistoryStoreError(std::string("postgres sync connection: ") + e.what());
  }
}

void SyncConnection::sync() {
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) connect();
  Result r(PQexec(conn_, kSyncWrite));
  if (PQresultStatus(r.get()) == PGRES_COMMAND_OK) return;
  std::string error = "postgres WAL sync: " + oneLine(r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn_));
  drop();
  throw HistoryStoreError(error);
}

}  // namespace webim::hub::pg
