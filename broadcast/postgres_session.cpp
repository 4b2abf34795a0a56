#include "broadcast/postgres_session.h"

#include <poll.h>

#include <algorithm>
#include <utility>

#include "broadcast/postgres_schema.h"
#include "broadcast/postgres_sql.h"
#include "common/big_endian.h"

namespace webim::hub::pg {

namespace {
constexpr std::chrono::milliseconds kMinConnectBackoff{100};
constexpr std::chrono::milliseconds kMaxConnectBackoff{5000};

void chomp(std::string& s) {
  while (!s.empty() && s.back() == '\n') s.pop_back();
}
}  // namespace

std::string_view field(const PGresult* r, int row, int col) {
  return {PQgetvalue(r, row, col), static_cast<size_t>(PQgetlength(r, row, col))};
}

uint64_t int8Field(const PGresult* r, int row, int col) {
  if (PQgetlength(r, row, col) != 8) throw HistoryStoreError("unexpected int8 field size");
  return loadBigEndian<uint64_t>(PQgetvalue(r, row, col));
}

int64_t wallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Session::Session(PostgresStoreOptions o) : options(std::move(o)), filter(options.dedupTtlMs) {}

Session::~Session() { disconnect(); }

void Session::disconnect() {
  if (conn) PQfinish(conn);
  conn = nullptr;
}

std::string oneLine(std::string_view raw) {
  std::string e;
  for (char c : raw) {
    if (c == '\n' || c == '\t') c = ' ';
    if (c != ' ' || (!e.empty() && e.back() != ' ')) e.push_back(c);
  }
  while (!e.empty() && e.back() == ' ') e.pop_back();
  return e.empty() ? "unknown PostgreSQL error" : e;
}

void requireDurableCommits(PGconn* conn) {
  Result level(PQexec(conn, "SHOW synchronous_commit"));
  if (PQresultStatus(level.get()) != PGRES_TUPLES_OK)
    throw HistoryStoreError("postgres: " + oneLine(PQerrorMessage(conn)));
  const std::string current = PQgetvalue(level.get(), 0, 0);
  if (current != "off" && current != "local") return;
  Result set(PQexec(conn, "SET synchronous_commit TO on"));
  if (PQresultStatus(set.get()) != PGRES_COMMAND_OK)
    throw HistoryStoreError("postgres: " + oneLine(PQresultErrorMessage(set.get())));
}

std::string Session::lastError() const { return oneLine(conn ? PQerrorMessage(conn) : "not connected"); }

void Session::exec(const char* sql) {
  Result r(PQexec(conn, sql));
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK && PQresultStatus(r.get()) != PGRES_TUPLES_OK)
    throw HistoryStoreError(std::string("postgres: ") + PQresultErrorMessage(r.get()));
}

void Session::connect() {
  disconnect();
  conn = PQconnectdb(options.dsn.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string e = "cannot connect to PostgreSQL: " + lastError();
    disconnect();
    throw HistoryStoreError(e);
  }
  try {
    requireDurableCommits(conn);
    exec("SET client_min_messages TO warning");  // no "already exists, skipping" notices
    migrateSchema(*this);
    for (const Statement& s : statements()) {
      Result r(PQprepare(conn, s.name, s.sql, static_cast<int>(s.types.size()), s.types.data()));
      if (PQresultStatus(r.get()) != PGRES_COMMAND_OK)
        throw HistoryStoreError(std::string("postgres: prepare ") + s.name + ": " + PQresultErrorMessage(r.get()));
    }
  } catch (...) {
    disconnect();
    throw;
  }
}

// A server restart or pg_terminate_backend() leaves the socket readable (a FATAL message, EOF):
// notice it before sending a commit, so an idle connection's death costs no failed batch.
bool Session::socketLooksDead() {
  if (connectionBroken()) return true;
  // The FATAL message and the EOF may take more than one read to consume.
  for (int i = 0; i < 4; ++i) {
    pollfd p{PQsocket(conn), POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) break;
    if (PQconsumeInput(conn) != 1) return true;
  }
  return PQstatus(conn) != CONNECTION_OK;
}

void Session::reconnect() {
  const auto now = std::chrono::steady_clock::now();
  if (now < nextConnect_) {
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(nextConnect_ - now).count();
    throw HistoryStoreError(connectError_ + " (next attempt in " + std::to_string(wait) + " ms)");
  }
  try {
    connect();
  } catch (const HistoryStoreError& e) {
    connectBackoff_ = std::min(kMaxConnectBackoff, std::max(kMinConnectBackoff, connectBackoff_ * 2));
    nextConnect_ = std::chrono::steady_clock::now() + connectBackoff_;
    connectError_ = e.what();
    throw;
  }
  connectBackoff_ = std::chrono::milliseconds(0);
}

void Session::ready() {
  if (socketLooksDead()) reconnect();
  if (undo) runUndo();
}

Result Session::execPrepared(const char* name, const Params& params) {
  ++roundTrips;
  auto values = params.values();
  auto lengths = params.lengths();
  std::vector<int> formats(values.size(), kBinary);
  return Result(PQexecPrepared(conn, name, static_cast<int>(values.size()), values.data(), lengths.data(),
                               formats.data(), kBinary));
}

Result Session::query(const char* name, const Params& params) {
  for (int attempt = 0;; ++attempt) {
    ready();
    Result r = execPrepared(name, params);
    if (PQresultStatus(r.get()) == PGRES_TUPLES_OK) return r;
    std::string error = std::string("postgres: ") + name + ": " + (r ? PQresultErrorMessage(r.get()) : lastError());
    if (connectionBroken()) {
      disconnect();
      if (attempt == 0) continue;
    }
    chomp(error);
    throw HistoryStoreError(error);
  }
}

// Sends the queued statements' Sync and collects every result; "" when all succeeded.
// `expected` is the number of statements sent in this pipeline.
std::string Session::drainPipeline(int expected) {
  std::string error;
  for (int i = 0; i < expected; ++i) {
    Result r(PQgetResult(conn));
    if (!r) {
      if (error.empty()) error = lastError();
      return error;  // connection trouble: nothing more will come
    }
    ExecStatusType st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && error.empty()) {
      error = st == PGRES_PIPELINE_ABORTED ? "pipeline aborted" : PQresultErrorMessage(r.get());
      const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
      if (state) lastSqlState = state;
    }
    Result end(PQgetResult(conn));  // NULL ends each statement's results
  }
  Result sync(PQgetResult(conn));
  if (!sync || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC) {
    if (error.empty()) error = "no pipeline sync: " + lastError();
  }
  chomp(error);
  return error;
}

bool Session::sendPrepared(const char* name, const std::vector<const std::string*>& params) {
  std::vector<const char*> values;
  std::vector<int> lengths, formats(params.size(), kBinary);
  for (const std::string* p : params) {
    values.push_back(p->data());
    lengths.push_back(static_cast<int>(p->size()));
  }
  return PQsendQueryPrepared(conn, name, static_cast<int>(params.size()), values.data(), lengths.data(),
                             formats.data(), kBinary) == 1;
}

bool Session::sendCommand(const char* sql) {
  return PQsendQueryParams(conn, sql, 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
}

std::string Session::transaction(const std::function<int()>& body) {
  lastSqlState.clear();
  if (PQenterPipelineMode(conn) != 1) return "cannot enter pipeline mode: " + lastError();
  int sent = 0;
  bool ok = sendCommand("BEGIN");
  if (ok) {
    ++sent;
    int n = body();
    ok = n >= 0;
    if (ok) sent += n;
  }
  if (ok && (ok = sendCommand("COMMIT"))) ++sent;
  if (ok) ok = PQpipelineSync(conn) == 1;
  std::string error = ok ? drainPipeline(sent) : lastError();
  if (!connectionBroken()) {
    PQexitPipelineMode(conn);
    if (PQtransactionStatus(conn) == PQTRANS_INERROR || PQtransactionStatus(conn) == PQTRANS_INTRANS) {
      Result r(PQexec(conn, "ROLLBACK"));
    }
  }
  return error;
}

void Session::loadFilter() {
  const int64_t now = wallMs();
  filter.reset(now);
  Params p;
  p.addInt8(static_cast<uint64_t>(now - options.dedupTtlMs - 60000));
  auto values = p.values();
  auto lengths = p.lengths();
  int formats[1] = {kBinary};
  if (PQsendQueryPrepared(conn, "dedup_keys_since", 1, values.data(), lengths.data(), formats, kBinary) != 1 ||
      PQsetSingleRowMode(conn) != 1)
    throw HistoryStoreError("postgres: loading dedup keys: " + lastError());
  std::string error;
  for (;;) {
    Result r(PQgetResult(conn));
    if (!r) break;
    ExecStatusType st = PQresultStatus(r.get());
    if (st == PGRES_SINGLE_TUPLE) {
      filter.add(dedupKeyHash(field(r.get(), 0, 0), field(r.get(), 0, 1)), now);
    } else if (st != PGRES_TUPLES_OK && error.empty()) {
      error = PQresultErrorMessage(r.get());
    }
  }
  if (!error.empty()) throw HistoryStoreError("postgres: loading dedup keys: " + error);
}

}  // namespace webim::hub::pg
