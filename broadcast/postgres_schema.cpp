#include "broadcast/postgres_schema.h"

#include <spdlog/spdlog.h>

#include "broadcast/postgres_session.h"
#include "broadcast/postgres_sql.h"
#include "broadcast/store_migration.h"
#include "common/big_endian.h"

namespace webim::hub::pg {

namespace {

constexpr int64_t kSchemaLockKey = 0x7765623173746f72;  // advisory lock around the migrations

uint32_t readVersion(Session& s) {
  Result r(PQexecParams(s.conn, "SELECT value FROM webim_store WHERE name = 'schema_version'", 0, nullptr, nullptr,
                        nullptr, nullptr, kBinary));
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK)
    throw HistoryStoreError(std::string("postgres: reading the schema version: ") + PQresultErrorMessage(r.get()));
  if (PQntuples(r.get()) == 0) return 0;
  const std::string_view v = field(r.get(), 0, 0);
  if (v.size() != 4) throw HistoryStoreError("postgres: corrupt schema version in webim_store");
  return loadBigEndian<uint32_t>(v.data());
}

void writeVersion(Session& s, uint32_t version) {
  std::string value;
  appendBigEndian<uint32_t>(value, version);
  const char* values[1] = {value.data()};
  const int lengths[1] = {static_cast<int>(value.size())};
  const int formats[1] = {kBinary};
  Result r(PQexecParams(s.conn,
                        "INSERT INTO webim_store (name, value) VALUES ('schema_version', $1) "
                        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                        1, nullptr, values, lengths, formats, kBinary));
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK)
    throw HistoryStoreError(std::string("postgres: writing the schema version: ") + PQresultErrorMessage(r.get()));
}

}  // namespace

uint32_t latestSchemaVersion() { return static_cast<uint32_t>(schemaSteps().size()); }

void migrateSchema(Session& s) {
  s.exec("BEGIN");
  try {
    s.exec(("SELECT pg_advisory_xact_lock(" + std::to_string(kSchemaLockKey) + ")").c_str());
    s.exec(kVersionTableSql);
    const uint32_t version = readVersion(s);
    for (const SchemaStep* step : pendingMigrations(schemaSteps(), version, "PostgreSQL store schema")) {
      spdlog::info("PostgreSQL store: migrating the schema to version {} ({})", step->version, step->what);
      s.exec(step->sql);
      writeVersion(s, step->version);
    }
    s.exec("COMMIT");
  } catch (const HistoryStoreError&) {
    if (!s.connectionBroken()) Result(PQexec(s.conn, "ROLLBACK"));
    throw;
  }
}

}  // namespace webim::hub::pg
