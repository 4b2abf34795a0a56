#include "broadcast/postgres_store.h"

#include <libpq-fe.h>
#include <openssl/rand.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <unordered_map>
#include <unordered_set>
#include <vector>
#include <utility>

#include "common/big_endian.h"

namespace webim::hub {

namespace {

// Type OIDs (pg_type.dat; fixed since forever).
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;
constexpr Oid kTextArrayOid = 1009;
constexpr Oid kByteaArrayOid = 1001;
constexpr Oid kInt8ArrayOid = 1016;
constexpr int kBinary = 1;
constexpr int64_t kSchemaLockKey = 0x7765623173746f72;  // advisory lock around CREATE .. IF NOT EXISTS

constexpr const char* kSchemaSql = R"sql(
CREATE TABLE IF NOT EXISTS webim_channel (
  channel  text   PRIMARY KEY,
  epoch    bigint NOT NULL,
  last_seq bigint NOT NULL);
CREATE TABLE IF NOT EXISTS webim_message (
  channel text   NOT NULL,
  seq     bigint NOT NULL,
  epoch   bigint NOT NULL,
  sender  bytea  NOT NULL,
  ts_ms   bigint NOT NULL,
  data    bytea  NOT NULL,
  PRIMARY KEY (channel, seq));
CREATE TABLE IF NOT EXISTS webim_dedup (
  sender  bytea  NOT NULL,
  cid     bytea  NOT NULL,
  channel text   NOT NULL,
  epoch   bigint NOT NULL,
  seq     bigint NOT NULL,
  ts_ms   bigint NOT NULL,
  PRIMARY KEY (sender, cid));
CREATE INDEX IF NOT EXISTS webim_dedup_ts ON webim_dedup (ts_ms);
CREATE TABLE IF NOT EXISTS webim_store (
  name  text  PRIMARY KEY,
  value bytea NOT NULL);
CREATE TABLE IF NOT EXISTS webim_revocation (
  user_id       bytea  PRIMARY KEY,
  not_before_ms bigint NOT NULL);
)sql";

struct Statement {
  const char* name;
  const char* sql;
  std::vector<Oid> types;
};

const std::vector<Statement>& statements() {
  static const std::vector<Statement> list = {
      {"meta_get", "SELECT epoch, last_seq FROM webim_channel WHERE channel = $1", {kTextOid}},
      // The store's epoch seed: the first hub to ask makes it, every later one reads it.
      {"seed_put", "INSERT INTO webim_store (name, value) VALUES ('epoch_seed', $1) ON CONFLICT (name) DO NOTHING",
       {kByteaOid}},
      {"seed_get", "SELECT value FROM webim_store WHERE name = 'epoch_seed'", {}},
      {"metas_get", "SELECT channel, epoch, last_seq FROM webim_channel WHERE channel = ANY($1::text[])",
       {kTextArrayOid}},
      {"dedup_get", "SELECT channel, epoch, seq, ts_ms FROM webim_dedup WHERE sender = $1 AND cid = $2",
       {kByteaOid, kByteaOid}},
      {"channel_count", "SELECT count(*) FROM webim_channel", {}},
      // One statement (one snapshot) for the meta and the page; limit is the page size + 1.
      {"page_after",
       "SELECT c.epoch, c.last_seq, m.seq, m.epoch, m.sender, m.ts_ms, m.data FROM webim_channel c "
       "LEFT JOIN LATERAL (SELECT seq, epoch, sender, ts_ms, data FROM webim_message "
       "WHERE channel = c.channel AND seq > $2 ORDER BY seq LIMIT $3) m ON true WHERE c.channel = $1",
       {kTextOid, kInt8Oid, kInt8Oid}},
      {"page_before",
       "SELECT c.epoch, c.last_seq, m.seq, m.epoch, m.sender, m.ts_ms, m.data FROM webim_channel c "
       "LEFT JOIN LATERAL (SELECT seq, epoch, sender, ts_ms, data FROM webim_message "
       "WHERE channel = c.channel AND seq < $2 ORDER BY seq DESC LIMIT $3) m ON true "
       "WHERE c.channel = $1",
       {kTextOid, kInt8Oid, kInt8Oid}},
      {"put_messages",
       "INSERT INTO webim_message (channel, seq, epoch, sender, ts_ms, data) "
       "SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::bytea[], $5::int8[], $6::bytea[]) "
       "ON CONFLICT (channel, seq) DO UPDATE SET epoch = excluded.epoch, sender = excluded.sender, "
       "ts_ms = excluded.ts_ms, data = excluded.data",
       {kTextArrayOid, kInt8ArrayOid, kInt8ArrayOid, kByteaArrayOid, kInt8ArrayOid, kByteaArrayOid}},
      {"put_metas",
       "INSERT INTO webim_channel (channel, epoch, last_seq) "
       "SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[]) "
       "ON CONFLICT (channel) DO UPDATE SET epoch = excluded.epoch, last_seq = excluded.last_seq",
       {kTextArrayOid, kInt8ArrayOid, kInt8ArrayOid}},
      {"put_dedups",
       "INSERT INTO webim_dedup (sender, cid, channel, epoch, seq, ts_ms) "
       "SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::text[], $4::int8[], $5::int8[], $6::int8[]) "
       "ON CONFLICT (sender, cid) DO UPDATE SET channel = excluded.channel, epoch = excluded.epoch, "
       "seq = excluded.seq, ts_ms = excluded.ts_ms",
       {kByteaArrayOid, kByteaArrayOid, kTextArrayOid, kInt8ArrayOid, kInt8ArrayOid, kInt8ArrayOid}},
      // Undo of a batch whose commit outcome is unknown (see the header).
      {"undo_messages",
       "DELETE FROM webim_message m USING unnest($1::text[], $2::int8[]) AS u(channel, seq) "
       "WHERE m.channel = u.channel AND m.seq = u.seq",
       {kTextArrayOid, kInt8ArrayOid}},
      {"undo_dedups",
       "DELETE FROM webim_dedup d USING unnest($1::bytea[], $2::bytea[], $3::text[], $4::int8[]) "
       "AS u(sender, cid, channel, seq) "
       "WHERE d.sender = u.sender AND d.cid = u.cid AND d.channel = u.channel AND d.seq = u.seq",
       {kByteaArrayOid, kByteaArrayOid, kTextArrayOid, kInt8ArrayOid}},
      {"undo_metas",
       "UPDATE webim_channel c SET last_seq = u.restore "
       "FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[]) AS u(channel, epoch, last, restore) "
       "WHERE c.channel = u.channel AND c.epoch = u.epoch AND c.last_seq = u.last",
       {kTextArrayOid, kInt8ArrayOid, kInt8ArrayOid, kInt8ArrayOid}},
      {"dedup_keys_since", "SELECT sender, cid FROM webim_dedup WHERE ts_ms >= $1", {kInt8Oid}},
      // Kick revocations: the latest per user wins.
      {"put_revocations",
       "INSERT INTO webim_revocation (user_id, not_before_ms) SELECT * FROM unnest($1::bytea[], $2::int8[]) "
       "ON CONFLICT (user_id) DO UPDATE SET not_before_ms = GREATEST(webim_revocation.not_before_ms, "
       "excluded.not_before_ms)",
       {kByteaArrayOid, kInt8ArrayOid}},
      {"revocations_since", "SELECT user_id, not_before_ms FROM webim_revocation WHERE not_before_ms >= $1",
       {kInt8Oid}},
      {"trim_revocations", "DELETE FROM webim_revocation WHERE not_before_ms < $1", {kInt8Oid}},
      // Retention (trimHistory): list channels in index order, scan the oldest messages' times,
      // delete a bounded prefix of a channel's messages.
      {"channels_after", "SELECT channel FROM webim_channel WHERE channel > $1 ORDER BY channel LIMIT $2",
       {kTextOid, kInt8Oid}},
      {"oldest_times", "SELECT seq, ts_ms FROM webim_message WHERE channel = $1 AND seq > $2 ORDER BY seq LIMIT $3",
       {kTextOid, kInt8Oid, kInt8Oid}},
      {"trim_messages",
       "DELETE FROM webim_message WHERE channel = $1 AND seq IN (SELECT seq FROM webim_message "
       "WHERE channel = $1 AND seq <= $2 ORDER BY seq LIMIT $3)",
       {kTextOid, kInt8Oid, kInt8Oid}},
  };
  return list;
}

// A one-dimensional array parameter in PostgreSQL's binary array format.
class ArrayParam {
 public:
  explicit ArrayParam(Oid element) : element_(element) {}
  void addInt8(uint64_t v) {
    appendBigEndian<uint32_t>(body_, 8);
    appendBigEndian<uint64_t>(body_, v);
    ++count_;
  }
  void addBytes(std::string_view v) {
    appendBigEndian<uint32_t>(body_, static_cast<uint32_t>(v.size()));
    body_.append(v);
    ++count_;
  }
  const std::string& finish() {
    std::string header;
    appendBigEndian<uint32_t>(header, count_ == 0 ? 0 : 1);  // ndim
    appendBigEndian<uint32_t>(header, 0);                    // no NULLs
    appendBigEndian<uint32_t>(header, element_);
    if (count_ != 0) {
      appendBigEndian<uint32_t>(header, count_);  // dimension
      appendBigEndian<uint32_t>(header, 1);       // lower bound
    }
    encoded_ = header + body_;
    return encoded_;
  }

 private:
  Oid element_;
  uint32_t count_ = 0;
  std::string body_;
  std::string encoded_;
};

// Parameters for PQsendQueryPrepared / PQexecPrepared, all in binary format.
struct Params {
  std::vector<std::string> storage;
  void add(std::string value) { storage.push_back(std::move(value)); }
  void addInt8(uint64_t v) {
    std::string s;
    appendBigEndian<uint64_t>(s, v);
    storage.push_back(std::move(s));
  }
  std::vector<const char*> values() const {
    std::vector<const char*> out;
    for (const auto& s : storage) out.push_back(s.data());
    return out;
  }
  std::vector<int> lengths() const {
    std::vector<int> out;
    for (const auto& s : storage) out.push_back(static_cast<int>(s.size()));
    return out;
  }
};

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

std::string_view field(const PGresult* r, int row, int col) {
  return {PQgetvalue(r, row, col), static_cast<size_t>(PQgetlength(r, row, col))};
}
uint64_t int8Field(const PGresult* r, int row, int col) {
  if (PQgetlength(r, row, col) != 8) throw HistoryStoreError("unexpected int8 field size");
  return loadBigEndian<uint64_t>(PQgetvalue(r, row, col));
}

int64_t wallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ----- dedup filter: Bloom filters that grow by adding a twice-as-large filter when full -----

uint64_t mix64(uint64_t x) {  // splitmix64 finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t keyHash(std::string_view from, std::string_view cid) {
  // FNV-1a over from '\0' cid, then mixed (from never contains '\0').
  uint64_t h = 0xcbf29ce484222325ull;
  auto eat = [&h](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  };
  eat(from);
  h = (h ^ 0) * 0x100000001b3ull;
  eat(cid);
  return mix64(h);
}

class GrowingBloom {
 public:
  void add(uint64_t h) {
    if (parts_.empty() || parts_.back().count >= parts_.back().capacity)
      parts_.emplace_back(parts_.empty() ? kFirstCapacity : parts_.back().capacity * 2);
    parts_.back().add(h);
  }
  bool mayContain(uint64_t h) const {
    for (const Part& p : parts_)
      if (p.mayContain(h)) return true;
    return false;
  }

 private:
  static constexpr size_t kFirstCapacity = 1 << 16;
  static constexpr int kHashes = 7;      // ~10 bits per key: ~1% false positives
  static constexpr size_t kBitsPerKey = 10;
  struct Part {
    explicit Part(size_t cap) : capacity(cap), bits((cap * kBitsPerKey + 63) / 64, 0) {}
    size_t capacity;
    size_t count = 0;
    std::vector<uint64_t> bits;
    void add(uint64_t h) {
      const uint64_t n = bits.size() * 64, step = (h >> 32) | 1;
      for (int i = 0; i < kHashes; ++i, h += step) bits[(h % n) / 64] |= 1ull << ((h % n) % 64);
      ++count;
    }
    bool mayContain(uint64_t h) const {
      const uint64_t n = bits.size() * 64, step = (h >> 32) | 1;
      for (int i = 0; i < kHashes; ++i, h += step)
        if (!(bits[(h % n) / 64] & (1ull << ((h % n) % 64)))) return false;
      return true;
    }
  };
  std::vector<Part> parts_;
};

// Two generations: `current` takes every new key; when it is older than the TTL, `previous` (whose
// keys are all older than the TTL by then, so the sequencer ignores them anyway) is dropped.
class DedupFilter {
 public:
  explicit DedupFilter(int64_t ttlMs) : ttlMs_(ttlMs) {}
  void reset(int64_t nowMs) {
    previous_ = GrowingBloom();
    current_ = GrowingBloom();
    currentSince_ = nowMs;
  }
  void add(uint64_t h, int64_t nowMs) {
    rotate(nowMs);
    current_.add(h);
  }
  bool mayContain(uint64_t h, int64_t nowMs) {
    rotate(nowMs);
    return current_.mayContain(h) || previous_.mayContain(h);
  }

 private:
  void rotate(int64_t nowMs) {
    if (nowMs - currentSince_ <= ttlMs_ + kSlackMs) return;
    previous_ = std::move(current_);
    current_ = GrowingBloom();
    currentSince_ = nowMs;
  }
  static constexpr int64_t kSlackMs = 60000;  // clock steps, records sequenced just before a commit
  int64_t ttlMs_;
  int64_t currentSince_ = 0;
  GrowingBloom current_, previous_;
};

// Keeps the last occurrence per key (a WriteSet may rewrite a key; the last write wins, as in a
// RocksDB batch). ON CONFLICT DO UPDATE refuses to touch one row twice in a statement.
template <typename T, typename KeyFn>
std::vector<const T*> lastPerKey(const std::vector<T>& items, KeyFn key) {
  std::vector<const T*> out;
  out.reserve(items.size());
  if (items.size() <= 1) {
    for (const T& t : items) out.push_back(&t);
    return out;
  }
  std::unordered_set<std::string> seen;
  seen.reserve(items.size());
  for (auto it = items.rbegin(); it != items.rend(); ++it)
    if (seen.insert(key(*it)).second) out.push_back(&*it);
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace

struct PostgresHistoryStore::Impl {
  PostgresStoreOptions options;
  PGconn* conn = nullptr;
  DedupFilter filter;
  uint64_t filterSkips = 0;
  uint64_t dedupQueries = 0;
  uint64_t roundTrips = 0;  // statements executed one at a time (execPrepared)
  // The batch of a commit whose outcome is unknown, to undo before anything else.
  struct Undo {
    ArrayParam msgChannels{kTextOid}, msgSeqs{kInt8Oid};
    ArrayParam dedupFroms{kByteaOid}, dedupCids{kByteaOid}, dedupChannels{kTextOid}, dedupSeqs{kInt8Oid};
    ArrayParam metaChannels{kTextOid}, metaEpochs{kInt8Oid}, metaLast{kInt8Oid}, metaRestore{kInt8Oid};
  };
  std::unique_ptr<Undo> undo;
  // Reconnect backoff: after a failed connect, calls fail fast until nextConnect (100 ms doubling
  // to 5 s), so a dead server costs the hub's loop one connect attempt per backoff step.
  std::chrono::milliseconds connectBackoff{0};
  std::chrono::steady_clock::time_point nextConnect{};
  std::string connectError;

  explicit Impl(PostgresStoreOptions o) : options(std::move(o)), filter(options.dedupTtlMs) {}
  ~Impl() { disconnect(); }

  void disconnect() {
    if (conn) PQfinish(conn);
    conn = nullptr;
  }
  bool connectionBroken() const { return conn == nullptr || PQstatus(conn) != CONNECTION_OK; }

  std::string lastError() const {
    std::string raw = conn ? PQerrorMessage(conn) : "not connected", e;
    for (char c : raw) {  // one line: libpq's messages span several ("\n\tIs the server running...")
      if (c == '\n' || c == '\t') c = ' ';
      if (c != ' ' || (!e.empty() && e.back() != ' ')) e.push_back(c);
    }
    while (!e.empty() && e.back() == ' ') e.pop_back();
    return e.empty() ? "unknown PostgreSQL error" : e;
  }

  // Runs a simple (non-prepared) command; throws on failure.
  void exec(const char* sql) {
    Result r(PQexec(conn, sql));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK && PQresultStatus(r.get()) != PGRES_TUPLES_OK)
      throw HistoryStoreError(std::string("postgres: ") + PQresultErrorMessage(r.get()));
  }

  void connect() {
    disconnect();
    conn = PQconnectdb(options.dsn.c_str());
    if (PQstatus(conn) != CONNECTION_OK) {
      std::string e = "cannot connect to PostgreSQL: " + lastError();
      disconnect();
      throw HistoryStoreError(e);
    }
    try {
      // Durable commits unless the server already asks for more than a local flush.
      Result level(PQexec(conn, "SHOW synchronous_commit"));
      if (PQresultStatus(level.get()) != PGRES_TUPLES_OK)
        throw HistoryStoreError("postgres: " + lastError());
      const std::string current = PQgetvalue(level.get(), 0, 0);
      if (current == "off" || current == "local") exec("SET synchronous_commit TO on");
      exec("SET client_min_messages TO warning");  // no "already exists, skipping" notices
      exec("BEGIN");
      exec(("SELECT pg_advisory_xact_lock(" + std::to_string(kSchemaLockKey) + ")").c_str());
      exec(kSchemaSql);
      exec("COMMIT");
      for (const Statement& s : statements()) {
        Result r(PQprepare(conn, s.name, s.sql, static_cast<int>(s.types.size()), s.types.data()));
        if (PQresultStatus(r.get()) != PGRES_COMMAND_OK)
          throw HistoryStoreError(std::string("postgres: prepare ") + s.name + ": " +
                                  PQresultErrorMessage(r.get()));
      }
    } catch (...) {
      disconnect();
      throw;
    }
  }

  // A server restart or pg_terminate_backend() leaves the socket readable (a FATAL message, EOF):
  // notice it before sending a commit, so an idle connection's death costs no failed batch.
  bool socketLooksDead() {
    if (connectionBroken()) return true;
    // The FATAL message and the EOF may take more than one read to consume.
    for (int i = 0; i < 4; ++i) {
      pollfd p{PQsocket(conn), POLLIN, 0};
      if (::poll(&p, 1, 0) <= 0) break;
      if (PQconsumeInput(conn) != 1) return true;
    }
    return PQstatus(conn) != CONNECTION_OK;
  }

  // Reconnects when needed and undoes an unknown-outcome batch; throws when either fails.
  void ready() {
    if (socketLooksDead()) {
      const auto now = std::chrono::steady_clock::now();
      if (now < nextConnect)
        throw HistoryStoreError(connectError + " (next attempt in " +
                                std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(nextConnect - now).count()) +
                                " ms)");
      try {
        connect();
      } catch (const HistoryStoreError& e) {
        connectBackoff = std::min(std::chrono::milliseconds(5000), std::max(std::chrono::milliseconds(100), connectBackoff * 2));
        nextConnect = std::chrono::steady_clock::now() + connectBackoff;
        connectError = e.what();
        throw;
      }
      connectBackoff = std::chrono::milliseconds(0);
    }
    if (undo) runUndo();
  }

  Result execPrepared(const char* name, const Params& params) {
    ++roundTrips;
    auto values = params.values();
    auto lengths = params.lengths();
    std::vector<int> formats(values.size(), kBinary);
    return Result(PQexecPrepared(conn, name, static_cast<int>(values.size()), values.data(),
                                 lengths.data(), formats.data(), kBinary));
  }

  // A read: one retry on a fresh connection when the connection was lost (reads are idempotent).
  Result query(const char* name, const Params& params) {
    for (int attempt = 0;; ++attempt) {
      ready();
      Result r = execPrepared(name, params);
      if (PQresultStatus(r.get()) == PGRES_TUPLES_OK) return r;
      std::string error = std::string("postgres: ") + name + ": " +
                          (r ? PQresultErrorMessage(r.get()) : lastError());
      if (connectionBroken()) {
        disconnect();
        if (attempt == 0) continue;
      }
      while (!error.empty() && error.back() == '\n') error.pop_back();
      throw HistoryStoreError(error);
    }
  }

  // Sends the queued statements' Sync and collects every result; "" when all succeeded.
  // `expected` is the number of statements sent in this pipeline.
  std::string drainPipeline(int expected) {
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
      }
      Result end(PQgetResult(conn));  // NULL ends each statement's results
    }
    Result sync(PQgetResult(conn));
    if (!sync || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC) {
      if (error.empty()) error = "no pipeline sync: " + lastError();
    }
    while (!error.empty() && error.back() == '\n') error.pop_back();
    return error;
  }

  bool sendPrepared(const char* name, std::vector<const std::string*> params) {
    std::vector<const char*> values;
    std::vector<int> lengths, formats(params.size(), kBinary);
    for (const std::string* p : params) {
      values.push_back(p->data());
      lengths.push_back(static_cast<int>(p->size()));
    }
    return PQsendQueryPrepared(conn, name, static_cast<int>(params.size()), values.data(),
                               lengths.data(), formats.data(), kBinary) == 1;
  }
  bool sendCommand(const char* sql) { return PQsendQueryParams(conn, sql, 0, nullptr, nullptr, nullptr, nullptr, 0) == 1; }

  // BEGIN, `body` (which sends statements and returns how many, or -1 on a send failure), COMMIT
  // in one pipeline. Returns "" on success; `sentCommit` tells whether the outcome may be unknown.
  std::string transaction(const std::function<int()>& body, bool& sentCommit) {
    sentCommit = false;
    if (PQenterPipelineMode(conn) != 1) return "cannot enter pipeline mode: " + lastError();
    int sent = 0;
    bool ok = sendCommand("BEGIN");
    if (ok) {
      ++sent;
      int n = body();
      ok = n >= 0;
      if (ok) sent += n;
    }
    if (ok && (ok = sendCommand("COMMIT"))) {
      ++sent;
      sentCommit = true;
    }
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

  void runUndo() {
    Undo& u = *undo;
    bool sentCommit = false;
    std::string error = transaction(
        [&] {
          int n = 0;
          if (!sendPrepared("undo_messages", {&u.msgChannels.finish(), &u.msgSeqs.finish()})) return -1;
          ++n;
          if (!sendPrepared("undo_dedups", {&u.dedupFroms.finish(), &u.dedupCids.finish(),
                                            &u.dedupChannels.finish(), &u.dedupSeqs.finish()}))
            return -1;
          ++n;
          if (!sendPrepared("undo_metas", {&u.metaChannels.finish(), &u.metaEpochs.finish(),
                                           &u.metaLast.finish(), &u.metaRestore.finish()}))
            return -1;
          return n + 1;
        },
        sentCommit);
    if (!error.empty()) {
      if (connectionBroken()) disconnect();
      throw HistoryStoreError("postgres: undoing a batch of unknown outcome failed: " + error);
    }
    undo.reset();
  }

  void rememberUndo(const WriteSet& batch) {
    auto u = std::make_unique<Undo>();
    std::unordered_map<std::string, uint64_t> firstSeq;
    for (const StoredMessage& m : batch.messages) {
      u->msgChannels.addBytes(m.channel);
      u->msgSeqs.addInt8(m.seq);
      auto [it, added] = firstSeq.emplace(m.channel, m.seq);
      if (!added) it->second = std::min(it->second, m.seq);
    }
    for (const DedupEntry& d : batch.dedups) {
      u->dedupFroms.addBytes(d.from);
      u->dedupCids.addBytes(d.cid);
      u->dedupChannels.addBytes(d.record.channel);
      u->dedupSeqs.addInt8(d.record.seq);
    }
    // A meta without messages in the batch (a channel created for a subscriber) stays: the
    // sequencer forgets such a channel on failure and reloads it from the store.
    for (const MetaEntry& m : batch.metas) {
      auto it = firstSeq.find(m.channel);
      if (it == firstSeq.end()) continue;
      u->metaChannels.addBytes(m.channel);
      u->metaEpochs.addInt8(m.meta.epoch);
      u->metaLast.addInt8(m.meta.lastSeq);
      u->metaRestore.addInt8(it->second - 1);
    }
    undo = std::move(u);
  }

  void loadFilter() {
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
        filter.add(keyHash(field(r.get(), 0, 0), field(r.get(), 0, 1)), now);
      } else if (st != PGRES_TUPLES_OK && error.empty()) {
        error = PQresultErrorMessage(r.get());
      }
    }
    if (!error.empty()) throw HistoryStoreError("postgres: loading dedup keys: " + error);
  }
};

PostgresHistoryStore::PostgresHistoryStore(PostgresStoreOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  impl_->connect();
  impl_->loadFilter();
}

PostgresHistoryStore::~PostgresHistoryStore() = default;

uint64_t PostgresHistoryStore::dedupFilterSkips() const { return impl_->filterSkips; }
uint64_t PostgresHistoryStore::dedupQueries() const { return impl_->dedupQueries; }

std::optional<ChannelMeta> PostgresHistoryStore::loadMeta(std::string_view channel) {
  Params p;
  p.add(std::string(channel));
  Result r = impl_->query("meta_get", p);
  if (PQntuples(r.get()) == 0) return std::nullopt;
  return ChannelMeta{int8Field(r.get(), 0, 0), int8Field(r.get(), 0, 1)};
}

std::optional<DedupRecord> PostgresHistoryStore::loadDedup(std::string_view from, std::string_view cid) {
  if (!impl_->filter.mayContain(keyHash(from, cid), wallMs())) {
    // Still fail while the store is down or recovering, like every other call.
    if (impl_->undo || impl_->connectionBroken()) impl_->ready();
    ++impl_->filterSkips;
    return std::nullopt;
  }
  ++impl_->dedupQueries;
  Params p;
  p.add(std::string(from));
  p.add(std::string(cid));
  Result r = impl_->query("dedup_get", p);
  if (PQntuples(r.get()) == 0) return std::nullopt;
  return DedupRecord{std::string(field(r.get(), 0, 0)), int8Field(r.get(), 0, 1), int8Field(r.get(), 0, 2),
                     static_cast<int64_t>(int8Field(r.get(), 0, 3))};
}

std::vector<std::optional<ChannelMeta>> PostgresHistoryStore::loadMetas(const std::vector<std::string>& channels) {
  std::vector<std::optional<ChannelMeta>> out(channels.size());
  if (channels.empty()) return out;
  ArrayParam names(kTextOid);
  for (const std::string& channel : channels) names.addBytes(channel);
  Params p;
  p.add(std::string(names.finish()));
  Result r = impl_->query("metas_get", p);
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

uint64_t PostgresHistoryStore::roundTrips() const noexcept { return impl_->roundTrips; }

std::string PostgresHistoryStore::epochSeed() {
  Impl& s = *impl_;
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

std::string PostgresHistoryStore::commit(const WriteSet& batch, bool sync) {
  if (batch.empty()) return {};
  Impl& s = *impl_;
  try {
    s.ready();
  } catch (const HistoryStoreError& e) {
    return e.what();
  }
  auto messages = lastPerKey(batch.messages, [](const StoredMessage& m) {
    std::string k = m.channel;
    k.push_back('\0');
    k.append(reinterpret_cast<const char*>(&m.seq), sizeof m.seq);
    return k;
  });
  auto metas = lastPerKey(batch.metas, [](const MetaEntry& m) { return m.channel; });
  auto dedups = lastPerKey(batch.dedups, [](const DedupEntry& d) {
    std::string k = d.from;
    k.push_back('\0');
    k.append(d.cid);
    return k;
  });
  auto revocations = lastPerKey(batch.revocations, [](const Revocation& r) { return r.user; });
  ArrayParam rUser(kByteaOid), rNotBefore(kInt8Oid);
  for (const Revocation* r : revocations) {
    rUser.addBytes(r->user);
    rNotBefore.addInt8(static_cast<uint64_t>(r->notBeforeMs));
  }

  ArrayParam mChannel(kTextOid), mSeq(kInt8Oid), mEpoch(kInt8Oid), mFrom(kByteaOid), mTs(kInt8Oid),
      mData(kByteaOid);
  for (const StoredMessage* m : messages) {
    mChannel.addBytes(m->channel);
    mSeq.addInt8(m->seq);
    mEpoch.addInt8(m->epoch);
    mFrom.addBytes(m->from);
    mTs.addInt8(static_cast<uint64_t>(m->tsMs));
    mData.addBytes(m->data);
  }
  ArrayParam cChannel(kTextOid), cEpoch(kInt8Oid), cLast(kInt8Oid);
  for (const MetaEntry* m : metas) {
    cChannel.addBytes(m->channel);
    cEpoch.addInt8(m->meta.epoch);
    cLast.addInt8(m->meta.lastSeq);
  }
  ArrayParam dFrom(kByteaOid), dCid(kByteaOid), dChannel(kTextOid), dEpoch(kInt8Oid), dSeq(kInt8Oid),
      dTs(kInt8Oid);
  for (const DedupEntry* d : dedups) {
    dFrom.addBytes(d->from);
    dCid.addBytes(d->cid);
    dChannel.addBytes(d->record.channel);
    dEpoch.addInt8(d->record.epoch);
    dSeq.addInt8(d->record.seq);
    dTs.addInt8(static_cast<uint64_t>(d->record.tsMs));
  }

  bool sentCommit = false;
  std::string error = s.transaction(
      [&] {
        int n = 0;
        if (!sync) {
          if (!s.sendCommand("SET LOCAL synchronous_commit TO off")) return -1;
          ++n;
        }
        if (!messages.empty()) {
          if (!s.sendPrepared("put_messages", {&mChannel.finish(), &mSeq.finish(), &mEpoch.finish(),
                                               &mFrom.finish(), &mTs.finish(), &mData.finish()}))
            return -1;
          ++n;
        }
        if (!metas.empty()) {
          if (!s.sendPrepared("put_metas", {&cChannel.finish(), &cEpoch.finish(), &cLast.finish()}))
            return -1;
          ++n;
        }
        if (!dedups.empty()) {
          if (!s.sendPrepared("put_dedups", {&dFrom.finish(), &dCid.finish(), &dChannel.finish(),
                                             &dEpoch.finish(), &dSeq.finish(), &dTs.finish()}))
            return -1;
          ++n;
        }
        if (!revocations.empty()) {
          if (!s.sendPrepared("put_revocations", {&rUser.finish(), &rNotBefore.finish()})) return -1;
          ++n;
        }
        return n;
      },
      sentCommit);
  if (!error.empty()) {
    if (s.connectionBroken()) {
      // The COMMIT may or may not have reached the server: undo the batch on the next call.
      s.rememberUndo(batch);
      s.disconnect();
    }
    return "postgres: " + error;
  }
  const int64_t now = wallMs();
  for (const DedupEntry* d : dedups) s.filter.add(keyHash(d->from, d->cid), now);
  return {};
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
  Result r = impl_->query(backward ? "page_before" : "page_after", p);
  const int rows = PQntuples(r.get());
  if (rows == 0) return page;  // never written
  page.epoch = int8Field(r.get(), 0, 0);
  page.lastSeq = int8Field(r.get(), 0, 1);
  size_t bytes = 0;
  for (int i = 0; i < rows; ++i) {
    if (PQgetisnull(r.get(), i, 2)) break;  // the channel has no message in range
    StoredMessage m{std::string(channel), int8Field(r.get(), i, 3), int8Field(r.get(), i, 2),
                    std::string(field(r.get(), i, 4)), static_cast<int64_t>(int8Field(r.get(), i, 5)),
                    std::string(field(r.get(), i, 6))};
    // Roughly the encoded Delivery's size, as the RocksDB store counts it.
    const size_t size = m.channel.size() + m.from.size() + m.data.size() + 32;
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
  Result r = impl_->query("channel_count", Params{});
  return int8Field(r.get(), 0, 0);
}

std::vector<Revocation> PostgresHistoryStore::loadRevocations(int64_t sinceMs) {
  Params p;
  p.addInt8(static_cast<uint64_t>(sinceMs));
  Result r = impl_->query("revocations_since", p);
  std::vector<Revocation> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    out.push_back({std::string(field(r.get(), i, 0)), static_cast<int64_t>(int8Field(r.get(), i, 1))});
  }
  return out;
}

void PostgresHistoryStore::trimRevocations(int64_t beforeMs) {
  Params p;
  p.addInt8(static_cast<uint64_t>(beforeMs));
  Impl& s = *impl_;
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
  Result r = impl_->query("channels_after", p);
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
  if (request.keepLast != UINT64_MAX && meta->lastSeq > request.keepLast) cut = meta->lastSeq - request.keepLast;
  const uint64_t bound = std::max<uint64_t>(1, std::min(request.maxDeletes, kMaxInt8));
  if (request.minTsMs != INT64_MIN) {
    Params p;
    p.add(std::string(channel));
    p.addInt8(std::min(cut, kMaxInt8));
    p.addInt8(bound);
    Result r = impl_->query("oldest_times", p);
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
  if (cut == 0) return result;
  Impl& s = *impl_;
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
