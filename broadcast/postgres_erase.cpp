// Erasing a user on PostgreSQL (HistoryStore::eraseSender, erase_job.h): one UPDATE per slice over
// the partial index on sender (the messages not deleted), as a delete's redaction does.
#include <cstdlib>

#include "broadcast/postgres_session.h"
#include "broadcast/postgres_store.h"

namespace webim::hub {

namespace {

pg::Result run(pg::Session& s, const char* statement, std::string_view sender, uint64_t n, ExecStatusType ok) {
  pg::Params p;
  p.add(std::string(sender));
  p.addInt8(std::min<uint64_t>(n, INT64_MAX));
  s.ready();
  pg::Result r = s.execPrepared(statement, p);
  if (PQresultStatus(r.get()) != ok) {
    std::string error = r ? PQresultErrorMessage(r.get()) : s.lastError();
    if (s.connectionBroken()) s.disconnect();
    throw HistoryStoreError(std::string("postgres: ") + statement + ": " + error);
  }
  return r;
}

}  // namespace

HistoryStore::EraseSlice PostgresHistoryStore::eraseSender(std::string_view sender, size_t limit) {
  pg::Result r = run(*session_, "erase_sender", sender, limit, PGRES_COMMAND_OK);
  EraseSlice out;
  out.erased = std::strtoull(PQcmdTuples(r.get()), nullptr, 10);
  out.more = out.erased >= limit;
  return out;
}

uint64_t PostgresHistoryStore::countSender(std::string_view sender, uint64_t cap) {
  pg::Result r = run(*session_, "count_sender", sender, cap, PGRES_TUPLES_OK);
  return pg::int8Field(r.get(), 0, 0);
}

}  // namespace webim::hub
