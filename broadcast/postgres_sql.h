// The PostgreSQL store's SQL text: the schema, as numbered migration steps, and the prepared
// statements. Tables (in the first schema of the connection's search_path):
//   webim_channel    (channel text PK, epoch int8, last_seq int8)                      -- meta
//   webim_message    (channel text, seq int8, epoch int8, sender bytea, ts_ms int8, data bytea,
//                    edit_of int8, delete_of int8, deleted bool: edit and delete, schema step 4),
//                    index on sender WHERE NOT deleted (erase_user), on (channel, edit_of) WHERE
//                    edit_of <> 0 (a delete's edits; both step 4)
//                    PRIMARY KEY (channel, seq): a history page is one index range scan
//   webim_dedup      (sender bytea, cid bytea, channel text, epoch int8, seq int8, ts_ms int8),
//                    PRIMARY KEY (sender, cid), index on ts_ms (for retention)
//   webim_revocation (user_id bytea PK, not_before_ms int8)                             -- kicks
//   webim_read_cursor (channel text, user_id bytea, seq int8), PRIMARY KEY (channel, user_id),
//                    index on user_id                                        -- read cursors (step 2)
//   webim_last_seen  (user_id bytea PK, seen_ms int8)                     -- presence (schema step 3)
//   index webim_message_uncounted (channel, seq) WHERE edit_of <> 0 OR delete_of <> 0 OR deleted
//                    -- the seqs unread does not count (schema step 5)
//   webim_message.notice_of int8 (a dm notice), webim_conversation (user_id, channel, ts_ms, seq),
//                    webim_outbox (user_id, channel, seq, sender, ts_ms) -- conversations (step 6)
//   webim_store      (name text PK, value bytea): 'epoch_seed' (32 random bytes) and
//                    'schema_version' (4 bytes big-endian; postgres_schema.h)
// 64-bit epochs are stored bit for bit in int8 (they may read as negative in psql).
#pragma once

#include <cstdint>
#include <vector>

namespace webim::hub::pg {

// A prepared statement: name, text, parameter types (OIDs, postgres_codec.h).
struct Statement {
  const char* name;
  const char* sql;
  std::vector<uint32_t> types;
};

const std::vector<Statement>& statements();

// One schema migration step (store_migration.h): `sql` turns schema version-1 into `version`.
struct SchemaStep {
  uint32_t version;
  const char* what;  // for the log
  const char* sql;
};

const std::vector<SchemaStep>& schemaSteps();

// Creates webim_store, which holds the schema version, before any step (it exists from step 1 on,
// but the version must be readable before step 1 ran).
extern const char* const kVersionTableSql;

}  // namespace webim::hub::pg
