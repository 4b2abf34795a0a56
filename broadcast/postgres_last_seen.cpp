// Presence in the PostgreSQL store: last seen is upserted with each batch (put_last_seen, in
// postgres_store.cpp's commit) and read here for an `online` query, one statement for all users.
#include <unordered_map>

#include "broadcast/postgres_session.h"
#include "broadcast/postgres_store.h"

namespace webim::hub {

std::vector<int64_t> PostgresHistoryStore::loadLastSeen(const std::vector<std::string>& users) {
  std::vector<int64_t> out(users.size(), 0);
  if (users.empty()) return out;
  pg::ArrayParam ids(pg::kByteaOid);
  for (const std::string& user : users) ids.addBytes(user);
  pg::Params p;
  p.add(std::string(ids.finish()));
  pg::Result r = session_->query("last_seen_get", p);
  std::unordered_map<std::string_view, int64_t> seen;
  for (int row = 0; row < PQntuples(r.get()); ++row) {
    seen.emplace(pg::field(r.get(), row, 0), static_cast<int64_t>(pg::int8Field(r.get(), row, 1)));
  }
  for (size_t i = 0; i < users.size(); ++i) {
    if (auto it = seen.find(users[i]); it != seen.end()) out[i] = it->second;
  }
  return out;
}

}  // namespace webim::hub
