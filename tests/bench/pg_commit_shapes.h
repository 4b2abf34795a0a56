// The shapes of one PostgreSQL group commit compared by pg_commit_bench: each writes one WriteSet
// (messages, channel metas, dedup records) in one transaction on its own connection, in its own
// schema (the store's tables), synchronous_commit on.
//   upsert        the store's statements before 2026-12-05: BEGIN, INSERT .. SELECT FROM
//                 unnest($arrays) ON CONFLICT DO UPDATE per table, COMMIT, in one pipeline
//   upsert-nosync as upsert with SET LOCAL synchronous_commit off: the difference is the WAL flush
//   store         PostgresHistoryStore::commit itself, as built
//   unnest-plain  as upsert, but the messages without ON CONFLICT (plain INSERT)
//   plain         as upsert, the messages and the dedup records without ON CONFLICT
//   cte           one statement for the three tables (data-modifying CTEs, upserts), no BEGIN/COMMIT
//   copy          BEGIN; COPY webim_message FROM STDIN (FORMAT binary) (no upsert; libpq has no COPY
//                 in pipeline mode), then the metas' and dedups' upserts and COMMIT in one pipeline:
//                 three round trips
//   copy-stage    COPY into a temporary staging table, then INSERT .. SELECT .. ON CONFLICT from it
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>
#include <vector>

#include "broadcast/history_store.h"

namespace webim::bench {

class CommitShape {
 public:
  virtual ~CommitShape() = default;
  virtual void commit(const hub::WriteSet& batch) = 0;  // throws std::runtime_error
};

// The names above; `dsn` already selects the shape's schema (search_path) and application_name.
std::vector<std::string> shapeNames();
std::unique_ptr<CommitShape> makeShape(const std::string& name, const std::string& dsn);

// PostgreSQL's binary COPY stream of the batch's messages (header, tuples, trailer).
std::string copyMessages(const hub::WriteSet& batch);

}  // namespace webim::bench
