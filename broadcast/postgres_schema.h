// The PostgreSQL store's schema migrations (store_migration.h has the shared contract; the steps'
// SQL is in postgres_sql.cpp). The schema version is the row 'schema_version' of webim_store
// (4 bytes big-endian); a database without it is at version 0 (every release before the row).
// All pending steps run in one transaction under an advisory lock, each followed by the version
// row it produces: hubs starting together on one database migrate it once, and a failure leaves
// it untouched (PostgreSQL's DDL is transactional).
#pragma once

#include <cstdint>

namespace webim::hub::pg {

class Session;

uint32_t latestSchemaVersion();

// Brings the connected session's schema to latestSchemaVersion() (Session::connect calls it).
// Throws HistoryStoreError when a step fails or the schema is newer than this binary.
void migrateSchema(Session& session);

}  // namespace webim::hub::pg
