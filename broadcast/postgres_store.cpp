#include "broadcast/postgres_store.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cstdlib>
#include <unordered_map>
#include <utility>

#include "broadcast/postgres_session.h"
#include "broadcast/postgres_sync.h"

namespace webim::hub {

using pg::ArrayParam;
using pg::field;
using pg::int8Field;
using pg::Params;
using pg::Result;

namespace {

constexpr std::string_view kUniqueViolation = "23505";

// Sends a commit's statements (inside Session::transaction); how many, or -1 on a send failure.
// `upsert`: messages and dedup records with ON CONFLICT DO UPDATE, else plain inserts.
int sendCommit(pg::Session& s, pg::CommitArrays& a, bool sync, bool upsert) {
  int n = 0;
  if (!sync) {
    if (!s.sendCommand("SET LOCAL synchronous_commit TO off")) return -1;
    ++n;
  }
  if (a.messageRows > 0) {
    if (!s.sendPrepared(upsert ? "put_messages" : "insert_messages", {&a.mChannel.finish(), &a.mSeq.finish(), &a.mEpoch.finish(),
                                         &a.mFrom.finish(), &a.mTs.finish(), &a.mData.finish()}))
      return -1;
    ++n;
  }
  if (a.metaRows > 0) {
    if (!s.sendPrepared("put_metas", {&a.cChannel.finish(), &a.cEpoch.finish(), &a.cLast.finish()})) return -1;
    ++n;
  }
  if (a.dedupRows > 0) {
    if (!s.sendPrepared(upsert ? "put_dedups" : "insert_dedups", {&a.dFrom.finish(), &a.dCid.finish(), &a.dChannel.finish(),
                                       &a.dEpoch.finish(), &a.dSeq.finish(), &a.dTs.finish()}))
      return -1;
    ++n;
  }
  if (a.revocationRows > 0) {
    if (!s.sendPrepared("put_revocations", {&a.rUser.finish(), &a.rNotBefore.finish()})) return -1;
    ++n;
  }
  if (a.cursorRows > 0) {
    if (!s.sendPrepared("put_cursors", {&a.uChannel.finish(), &a.uUser.finish(), &a.uSeq.finish()})) return -1;
    ++n;
  }
  if (a.lastSeenRows > 0) {
    if (!s.sendPrepared("put_last_seen", {&a.lUser.finish(), &a.lSeen.finish()})) return -1;
    ++n;
  }
  if (a.entryRows > 0) {
    if (!s.sendPrepared("mark_entries", {&a.eChannel.finish(), &a.eSeq.finish(), &a.eEditOf.finish(), &a.eDeleteOf.finish()}))
      return -1;
    ++n;
  }
  if (a.redactionRows > 0) {
    if (!s.sendPrepared("redact_messages", {&a.xChannel.finish(), &a.xSeq.finish()})) return -1;
    ++n;
  }
  const int conversations = pg::sendConversations(s, a);  // postgres_conversations.cpp
  return conversations < 0 ? -1 : n + conversations;
}

}  // namespace

PostgresHistoryStore::PostgresHistoryStore(PostgresStoreOptions options)
    : pipelined_(options.pipelined),
      session_(std::make_unique<pg::Session>(options)),
      syncConnection_(std::make_unique<pg::SyncConnection>(options.dsn)) {
  session_->connect();
  session_->loadFilter();
}

PostgresHistoryStore::~PostgresHistoryStore() = default;

uint64_t PostgresHistoryStore::dedupFilterSkips() const { return session_->filterSkips; }
uint64_t PostgresHistoryStore::dedupQueries() const { return session_->dedupQueries; }
uint64_t PostgresHistoryStore::upsertRetries() const { return session_->upsertRetries; }

std::optional<ChannelMeta> PostgresHistoryStore::loadMeta(std::string_view channel) {
  Params p;
  p.add(std::string(channel));
  Result r = session_->query("meta_get", p);
  if (PQntuples(r.get()) == 0) return std::nullopt;
  return ChannelMeta{int8Field(r.get(), 0, 0), int8Field(r.get(), 0, 1)};
}

std::optional<DedupRecord> PostgresHistoryStore::loadDedup(std::string_view from, std::string_view cid) {
  pg::Session& s = *session_;
  if (!s.filter.mayContain(dedupKeyHash(from, cid), pg::wallMs())) {
    // Still fail while the store is down or recovering, like every other call.
    if (s.undo || s.connectionBroken()) s.ready();
    ++s.filterSkips;
    return std::nullopt;
  }
  ++s.dedupQueries;
  Params p;
  p.add(std::string(from));
  p.add(std::string(cid));
  Result r = s.query("dedup_get", p);
  if (PQntuples(r.get()) == 0) return std::nullopt;
  return DedupRecord{std::string(field(r.get(), 0, 0)), int8Field(r.get(), 0, 1), int8Field(r.get(), 0, 2),
                     static_cast<int64_t>(int8Field(r.get(), 0, 3))};
}

std::vector<std::optional<ChannelMeta>> PostgresHistoryStore::loadMetas(const std::vector<std::string>& channels) {
  std::vector<std::optional<ChannelMeta>> out(channels.size());
  if (channels.empty()) return out;
  ArrayParam names(pg::kTextOid);
  for (const std::string& channel : channels) names.addBytes(channel);
  Params p;
  p.add(std::string(names.finish()));
  Result r = session_->query("metas_get", p);
  std::unordered_map<std::string_view, size_t> at;
  for (size_t i = 0; i < channels.size(); ++i) at.emplace(channels[i], i);
  for (int row = 0; row < PQntuples(r.get()); ++row) {
    auto it = at.find(field(r.get(), row, 0));
    if (it == at.end()) continue;
    ChannelMeta meta{int8Field(r.get(), row, 1), int8Field(r.get(), row, 2)};
    out[it->second] = meta;
    for (size_t i = it->second + 1; i < channels.size(); ++i) {  // a channel asked twice
      if (channels[i] == it->first) out[i] = meta;
    }
  }
  return out;
}

uint64_t PostgresHistoryStore::roundTrips() const noexcept { return session_->roundTrips; }

std::string PostgresHistoryStore::epochSeed() {
  pg::Session& s = *session_;
  {
    Result r = s.query("seed_get", Params());
    if (PQntuples(r.get()) == 1) return std::string(field(r.get(), 0, 0));
  }
  std::string seed(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(seed.data()), static_cast<int>(seed.size())) != 1) {
    throw HistoryStoreError("no randomness for the epoch seed");
  }
  Params p;
  p.add(seed);
  s.ready();
  Result put = s.execPrepared("seed_put", p);  // synchronous_commit on: durable before it is used
  if (PQresultStatus(put.get()) != PGRES_COMMAND_OK) {
    throw HistoryStoreError(std::string("postgres: seed_put: ") + PQresultErrorMessage(put.get()));
  }
  Result r = s.query("seed_get", Params());
  if (PQntuples(r.get()) != 1) throw HistoryStoreError("postgres: the epoch seed vanished");
  return std::string(field(r.get(), 0, 0));  // ours, or one another hub stored first
}

std::optional<std::string> PostgresHistoryStore::loadValue(std::string_view name) {
  Params p;
  p.add(std::string(name));
  Result r = session_->query("value_get", p);
  if (PQntuples(r.get()) != 1) return std::nullopt;
  return std::string(field(r.get(), 0, 0));
}

void PostgresHistoryStore::storeValue(std::string_view name, std::string_view value) {
  pg::Session& s = *session_;
  Params p;
  p.add(std::string(name));
  p.add(std::string(value));
  s.ready();
  Result put = s.execPrepared("value_put", p);  // synchronous_commit on: durable when it returns
  if (PQresultStatus(put.get()) != PGRES_COMMAND_OK) {
    throw HistoryStoreError(std::string("postgres: value_put: ") + PQresultErrorMessage(put.get()));
  }
}

void PostgresHistoryStore::commit(const WriteSet& batch, bool sync) {
  if (batch.empty()) return;
  pg::Session& s = *session_;
  s.ready();
  pg::CommitArrays arrays = pg::commitArrays(batch);
  std::string error = s.transaction([&] { return sendCommit(s, arrays, sync, false); });
  if (!error.empty() && s.lastSqlState == kUniqueViolation && !s.connectionBroken()) {
    // The batch rewrites a message or a dedup record (rolled back, nothing written): upsert it.
    ++s.upsertRetries;
    error = s.transaction([&] { return sendCommit(s, arrays, sync, true); });
  }
  if (!error.empty()) {
    if (s.connectionBroken()) {
      // The COMMIT may or may not have reached the server: undo the batch on the next call.
      rememberUndo(batch);
      s.disconnect();
    }
    throw HistoryStoreError("postgres: " + error);
  }
  const int64_t now = pg::wallMs();
  for (uint64_t h : arrays.dedupHashes) s.filter.add(h, now);
}

void PostgresHistoryStore::write(const WriteSet& batch) { commit(batch, false); }

void PostgresHistoryStore::sync() { syncConnection_->sync(); }

void PostgresHistoryStore::abandon(const WriteSet& batch) { rememberUndo(batch); }

void PostgresHistoryStore::rememberUndo(const WriteSet& batch) {
  if (!session_->undo) undone_ = WriteSet{};  // the last undo ran: start afresh
  undone_.messages.insert(undone_.messages.end(), batch.messages.begin(), batch.messages.end());
  undone_.metas.insert(undone_.metas.end(), batch.metas.begin(), batch.metas.end());
  undone_.dedups.insert(undone_.dedups.end(), batch.dedups.begin(), batch.dedups.end());
  session_->rememberUndo(undone_);
}

HistoryPage PostgresHistoryStore::readPage(std::string_view channel, const HistoryQuery& query) {
  HistoryPage page;
  const bool backward = query.before != 0;
  constexpr uint64_t kMaxInt8 = static_cast<uint64_t>(INT64_MAX);
  if (!backward && query.after >= kMaxInt8) {
    // No seq can lie above; still report the channel's meta.
    if (auto meta = loadMeta(channel)) {
      page.epoch = meta->epoch;
      page.lastSeq = meta->lastSeq;
    }
    return page;
  }
  Params p;
  p.add(std::string(channel));
  p.addInt8(backward ? std::min(query.before, kMaxInt8) : query.after);
  p.addInt8(static_cast<uint64_t>(query.limit) + 1);
  Result r = session_->query(backward ? "page_before" : "page_after", p);
  const int rows = PQntuples(r.get());
  if (rows == 0) return page;  // never written
  page.epoch = int8Field(r.get(), 0, 0);
  page.lastSeq = int8Field(r.get(), 0, 1);
  size_t bytes = 0;
  for (int i = 0; i < rows; ++i) {
    if (PQgetisnull(r.get(), i, 2)) break;  // the channel has no message in range
    StoredMessage m{std::string(channel), int8Field(r.get(), i, 3), int8Field(r.get(), i, 2),
                    std::string(field(r.get(), i, 4)), static_cast<int64_t>(int8Field(r.get(), i, 5)),
                    std::string(field(r.get(), i, 6)), int8Field(r.get(), i, 7), int8Field(r.get(), i, 8),
                    int8Field(r.get(), i, 9) != 0};
    // A dm notice: data is its dm (erase_user redacts a sender's notices too here: then a deleted message).
    if (const uint64_t noticeOf = int8Field(r.get(), i, 10); noticeOf != 0 && !m.deleted) {
      m.noticeSeq = noticeOf;
      m.noticeChannel = std::move(m.data);
      m.data.clear();
    }
    const size_t size = pageBytes(m);
    if (page.msgs.size() >= query.limit || (!page.msgs.empty() && bytes + size > query.maxBytes)) {
      page.more = true;
      break;
    }
    bytes += size;
    page.msgs.push_back(std::move(m));
  }
  if (backward) std::reverse(page.msgs.begin(), page.msgs.end());
  return page;
}

uint64_t PostgresHistoryStore::countChannels() {
  Result r = session_->query("channel_count", Params{});
  return int8Field(r.get(), 0, 0);
}

std::vector<Revocation> PostgresHistoryStore::loadRevocations(int64_t sinceMs) {
  Params p;
  p.addInt8(static_cast<uint64_t>(sinceMs));
  Result r = session_->query("revocations_since", p);
  std::vector<Revocation> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    out.push_back({std::string(field(r.get(), i, 0)), static_cast<int64_t>(int8Field(r.get(), i, 1))});
  }
  return out;
}

void PostgresHistoryStore::trimRevocations(int64_t beforeMs) {
  Params p;
  p.addInt8(static_cast<uint64_t>(beforeMs));
  pg::Session& s = *session_;
  s.ready();
  Result r = s.execPrepared("trim_revocations", p);
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
    std::string error = r ? PQresultErrorMessage(r.get()) : s.lastError();
    if (s.connectionBroken()) s.disconnect();
    throw HistoryStoreError("postgres: trim_revocations: " + error);
  }
}

std::vector<std::string> PostgresHistoryStore::listChannels(std::string_view after, size_t limit) {
  Params p;
  p.add(std::string(after));
  p.addInt8(std::min<uint64_t>(limit, INT64_MAX));
  Result r = session_->query("channels_after", p);
  std::vector<std::string> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) out.emplace_back(field(r.get(), i, 0));
  return out;
}

TrimResult PostgresHistoryStore::trimHistory(std::string_view channel, const TrimRequest& request) {
  TrimResult result;
  auto meta = loadMeta(channel);
  if (!meta) return result;
  constexpr uint64_t kMaxInt8 = static_cast<uint64_t>(INT64_MAX);
  uint64_t cut = 0;
  const uint64_t last = std::min(meta->lastSeq, request.durableLast);
  if (request.keepLast != UINT64_MAX && last > request.keepLast) cut = last - request.keepLast;
  const uint64_t bound = std::max<uint64_t>(1, std::min(request.maxDeletes, kMaxInt8));
  if (request.minTsMs != INT64_MIN) {
    Params p;
    p.add(std::string(channel));
    p.addInt8(std::min(cut, kMaxInt8));
    p.addInt8(bound);
    Result r = session_->query("oldest_times", p);
    const int rows = PQntuples(r.get());
    bool young = false;
    for (int i = 0; i < rows; ++i) {
      if (static_cast<int64_t>(int8Field(r.get(), i, 1)) >= request.minTsMs) {
        young = true;
        break;
      }
      cut = std::max(cut, int8Field(r.get(), i, 0));
    }
    if (!young && static_cast<uint64_t>(rows) == bound) result.more = true;
  }
  cut = std::min(cut, request.durableLast);  // never into a batch whose sync is pending
  if (cut == 0) return result;
  pg::Session& s = *session_;
  s.ready();
  Params p;
  p.add(std::string(channel));
  p.addInt8(std::min(cut, kMaxInt8));
  p.addInt8(bound);
  // Not synced: a crash may undo a trim, the next pass redoes it.
  try {
    s.exec("BEGIN");
    s.exec("SET LOCAL synchronous_commit TO off");
    Result r = s.execPrepared("trim_messages", p);
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK)
      throw HistoryStoreError(std::string("postgres: trim_messages: ") + PQresultErrorMessage(r.get()));
    result.deleted = std::strtoull(PQcmdTuples(r.get()), nullptr, 10);
    s.exec("COMMIT");
  } catch (const HistoryStoreError&) {
    if (s.connectionBroken()) {
      s.disconnect();
    } else if (PQtransactionStatus(s.conn) != PQTRANS_IDLE) {
      Result r(PQexec(s.conn, "ROLLBACK"));
    }
    throw;
  }
  if (result.deleted >= bound) result.more = true;
  return result;
}

}  // namespace webim::hub
