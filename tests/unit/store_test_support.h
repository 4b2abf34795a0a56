// Shared by the store tests (history_store_test.cpp, store_fixture_test.cpp): temp directories,
// the PostgreSQL server of this process, and the two backends behind one fixture interface
// (STORE_TEST runs a body on both). Run standalone with "[postgres]", a test starts its own
// server with tests/integration/pg_server.sh and stops it at exit; under CTest the `postgres`
// fixture (tests/integration/postgres.cmake) starts one and sets WEBIM_TEST_PG_DIR.
#pragma once

#include <catch2/catch.hpp>
#include <libpq-fe.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>

#include "broadcast/postgres_store.h"
#include "broadcast/rocksdb_store.h"

namespace {

using namespace webim::hub;
namespace fs = std::filesystem;


std::string randomSuffix() {
  std::random_device rd;
  return std::to_string(rd()) + std::to_string(rd());
}

// A fresh directory under the system temp dir, removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("webim-store-test-" + randomSuffix());
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// Seqs [from, to] of `ch` in one batch, each with a dedup record ("u", "<ch>-<seq>"), and the meta:
// a group commit as the hub writes it.
[[maybe_unused]] WriteSet plainBatch(const std::string& ch, uint64_t from, uint64_t to, uint64_t epoch) {
  WriteSet ws;
  for (uint64_t s = from; s <= to; ++s) {
    ws.messages.push_back(StoredMessage{ch, epoch, s, "u", 1000, std::to_string(s)});
    ws.dedups.push_back({"u", ch + "-" + std::to_string(s), {ch, epoch, s, 1000}});
  }
  ws.metas.push_back({ch, {epoch, to}});
  return ws;
}

// ----- the PostgreSQL server for this process -----

constexpr const char* kPgSkip = "postgres binaries not found: PostgreSQL cases skipped";

std::string readFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

fs::path pgServerScript() {
  if (const char* env = std::getenv("WEBIM_PG_SERVER_SCRIPT")) return env;
  return fs::path(__FILE__).parent_path().parent_path() / "integration" / "pg_server.sh";
}

// WEBIM_TEST_PG_DIR (set by the CTest fixture): a server started by `pg_server.sh start DIR`
// (DIR/dsn missing: binaries absent). Otherwise this process starts one and stops it at exit.
class PgServer {
 public:
  static PgServer& get() {
    static PgServer server;
    return server;
  }
  const std::string& dsn() const { return dsn_; }  // empty: no server, skip
  ~PgServer() {
    if (!ownDir_.empty()) {
      std::string cmd = "'" + pgServerScript().string() + "' stop '" + ownDir_ + "' >/dev/null 2>&1";
      [[maybe_unused]] int rc = std::system(cmd.c_str());
    }
  }

 private:
  PgServer() {
    if (const char* dir = std::getenv("WEBIM_TEST_PG_DIR")) {
      if (fs::exists(fs::path(dir) / "dsn")) dsn_ = readFile(fs::path(dir) / "dsn");
      return;
    }
    const std::string dir = (fs::temp_directory_path() / ("webim-pg-test-" + randomSuffix())).string();
    std::string cmd = "'" + pgServerScript().string() + "' start '" + dir + "' >/dev/null";
    int rc = std::system(cmd.c_str());
    if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77) return;  // binaries absent
    ownDir_ = dir;
    if (rc != 0) throw std::runtime_error("pg_server.sh start failed (exit " + std::to_string(rc) + ")");
    dsn_ = readFile(fs::path(dir) / "dsn");
  }
  std::string dsn_;
  std::string ownDir_;
};

// An admin connection to the test server (schemas, killing backends).
void pgAdmin(const std::string& sql) {
  PGconn* c = PQconnectdb(PgServer::get().dsn().c_str());
  REQUIRE(PQstatus(c) == CONNECTION_OK);
  PQclear(PQexec(c, "SET client_min_messages TO warning"));
  PGresult* r = PQexec(c, sql.c_str());
  INFO(PQresultErrorMessage(r));
  CHECK((PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK));
  PQclear(r);
  PQfinish(c);
}

// ----- the two backends, behind one fixture interface -----

class Backend {
 public:
  virtual ~Backend() = default;
  virtual bool available() const { return true; }
  // Opens the test's store (the same one again on every call, like reopening after a restart).
  virtual std::unique_ptr<HistoryStore> open() = 0;
};

class RocksBackend final : public Backend {
 public:
  std::unique_ptr<HistoryStore> open() override {
    return std::make_unique<RocksDbHistoryStore>(dir_.path.string());
  }

 private:
  TempDir dir_;
};

// Each test case gets a schema of its own in the shared server.
class PgBackend final : public Backend {
 public:
  PgBackend() {
    if (!available()) return;
    schema_ = "t" + randomSuffix();
    pgAdmin("CREATE SCHEMA " + schema_);
  }
  ~PgBackend() override {
    if (available()) pgAdmin("DROP SCHEMA " + schema_ + " CASCADE");
  }
  bool available() const override { return !PgServer::get().dsn().empty(); }
  std::string dsn() const {
    return PgServer::get().dsn() + " application_name=" + schema_ + " options='-c search_path=" + schema_ + "'";
  }
  const std::string& schema() const { return schema_; }
  std::unique_ptr<HistoryStore> open() override {
    return std::make_unique<PostgresHistoryStore>(PostgresStoreOptions{dsn(), 86400LL * 1000, true});
  }

 private:
  std::string schema_;
};

// STORE_TEST("name") { ... body using `backend` ... } defines "rocksdb: name" and "postgres: name".
#define STORE_TEST_CONCAT2(a, b) a##b
#define STORE_TEST_CONCAT(a, b) STORE_TEST_CONCAT2(a, b)
#define STORE_TEST_IMPL(name, fn)                                          \
  static void fn(Backend& backend);                                        \
  TEST_CASE("rocksdb: " name, "[history_store][rocksdb]") {                \
    RocksBackend backend;                                                  \
    fn(backend);                                                           \
  }                                                                        \
  TEST_CASE("postgres: " name, "[history_store][.postgres]") {             \
    PgBackend backend;                                                     \
    if (!backend.available()) {                                            \
      WARN(kPgSkip);                                                       \
      return;                                                              \
    }                                                                      \
    fn(backend);                                                           \
  }                                                                        \
  static void fn([[maybe_unused]] Backend& backend)
#define STORE_TEST(name) STORE_TEST_IMPL(name, STORE_TEST_CONCAT(storeTestBody, __LINE__))

}  // namespace
