// The PostgreSQL store's read cursors (read_cursors.h; table webim_read_cursor, postgres_sql.h).
#include <unordered_map>

#include "broadcast/postgres_session.h"
#include "broadcast/postgres_store.h"

namespace webim::hub {

std::vector<uint64_t> PostgresHistoryStore::loadCursors(const std::vector<ReadCursor>& keys) {
  std::vector<uint64_t> out(keys.size(), 0);
  if (keys.empty()) return out;
  pg::ArrayParam channels(pg::kTextOid);
  pg::ArrayParam users(pg::kByteaOid);
  std::unordered_map<std::string, size_t> at;  // channel '\0' user -> first index asked
  for (size_t i = 0; i < keys.size(); ++i) {
    channels.addBytes(keys[i].channel);
    users.addBytes(keys[i].user);
    at.emplace(keys[i].channel + '\0' + keys[i].user, i);
  }
  pg::Params p;
  p.add(std::string(channels.finish()));
  p.add(std::string(users.finish()));
  pg::Result r = session_->query("cursors_get", p);
  for (int row = 0; row < PQntuples(r.get()); ++row) {
    std::string key(pg::field(r.get(), row, 0));
    key.push_back('\0');
    key.append(pg::field(r.get(), row, 1));
    auto it = at.find(key);
    if (it == at.end()) continue;
    const uint64_t seq = pg::int8Field(r.get(), row, 2);
    for (size_t i = it->second; i < keys.size(); ++i) {  // a key asked twice
      if (keys[i].channel == keys[it->second].channel && keys[i].user == keys[it->second].user) out[i] = seq;
    }
  }
  return out;
}

std::vector<uint64_t> PostgresHistoryStore::countUncounted(const std::vector<SeqRange>& ranges) {
  std::vector<uint64_t> out(ranges.size(), 0);
  if (ranges.empty()) return out;
  pg::ArrayParam channels(pg::kTextOid);
  pg::ArrayParam after(pg::kInt8Oid);
  pg::ArrayParam upTo(pg::kInt8Oid);
  for (const SeqRange& r : ranges) {
    channels.addBytes(r.channel);
    after.addInt8(r.after);
    upTo.addInt8(r.upTo);
  }
  pg::Params p;
  p.add(std::string(channels.finish()));
  p.add(std::string(after.finish()));
  p.add(std::string(upTo.finish()));
  pg::Result r = session_->query("uncounted_get", p);
  for (int row = 0; row < PQntuples(r.get()) && row < static_cast<int>(out.size()); ++row) {
    out[static_cast<size_t>(row)] = pg::int8Field(r.get(), row, 0);
  }
  return out;
}

}  // namespace webim::hub
