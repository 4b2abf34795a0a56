// The PostgreSQL store's sync (HistoryStore::sync), for the pipelined group commit: batches are
// committed on the store's connection with synchronous_commit off (PostgresHistoryStore::write:
// committed and visible, the WAL not yet flushed), and this connection, used by the hub's sync
// thread only, then commits one tiny write with synchronous_commit on. Its commit record comes
// after every batch committed before it in the one WAL stream, and PostgreSQL flushes the WAL up to
// it before answering: once it returns, all those batches are durable (and, with synchronous
// replication configured on the server, replicated as it asks).
//
// The write is one row per backend in webim_store (`sync:<backend pid>`): a transaction without
// a write would not flush anything, and a row per backend keeps hubs sharing one database from
// waiting on each other's row lock.
#pragma once

#include <libpq-fe.h>

#include <string>

namespace webim::hub::pg {

class SyncConnection {
 public:
  explicit SyncConnection(std::string dsn) : dsn_(std::move(dsn)) {}
  ~SyncConnection();
  SyncConnection(const SyncConnection&) = delete;
  SyncConnection& operator=(const SyncConnection&) = delete;

  // Connects when needed; throws HistoryStoreError when the server cannot be reached or the write
  // fails (the connection is dropped: the next call reconnects).
  void sync();

 private:
  void connect();
  void drop();

  std::string dsn_;
  PGconn* conn_ = nullptr;
};

}  // namespace webim::hub::pg
