#include "tests/bench/pg_commit_shapes.h"

#include <cstring>
#include <stdexcept>

#include "broadcast/postgres_batch.h"
#include "broadcast/postgres_sql.h"
#include "broadcast/postgres_store.h"
#include "common/big_endian.h"

namespace webim::bench {

using hub::WriteSet;
namespace pg = hub::pg;

namespace {

struct ResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Res = std::unique_ptr<PGresult, ResultFree>;

constexpr const char* kPutMessagesPlain =
    "INSERT INTO webim_message (channel, seq, epoch, sender, ts_ms, data) "
    "SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::bytea[], $5::int8[], $6::bytea[])";

constexpr const char* kPutDedupsPlain =
    "INSERT INTO webim_dedup (sender, cid, channel, epoch, seq, ts_ms) "
    "SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::text[], $4::int8[], $5::int8[], $6::int8[])";

constexpr const char* kCte =
    "WITH m AS (INSERT INTO webim_message (channel, seq, epoch, sender, ts_ms, data) "
    "SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::bytea[], $5::int8[], $6::bytea[]) "
    "ON CONFLICT (channel, seq) DO UPDATE SET epoch = excluded.epoch, sender = excluded.sender, "
    "ts_ms = excluded.ts_ms, data = excluded.data), "
    "d AS (INSERT INTO webim_dedup (sender, cid, channel, epoch, seq, ts_ms) "
    "SELECT * FROM unnest($10::bytea[], $11::bytea[], $12::text[], $13::int8[], $14::int8[], $15::int8[]) "
    "ON CONFLICT (sender, cid) DO UPDATE SET channel = excluded.channel, epoch = excluded.epoch, "
    "seq = excluded.seq, ts_ms = excluded.ts_ms) "
    "INSERT INTO webim_channel (channel, epoch, last_seq) SELECT * FROM unnest($7::text[], $8::int8[], $9::int8[]) "
    "ON CONFLICT (channel) DO UPDATE SET epoch = excluded.epoch, last_seq = excluded.last_seq";

constexpr const char* kStageUpsert =
    "INSERT INTO webim_message SELECT * FROM webim_stage_message "
    "ON CONFLICT (channel, seq) DO UPDATE SET epoch = excluded.epoch, sender = excluded.sender, "
    "ts_ms = excluded.ts_ms, data = excluded.data";

void appendField(std::string& out, std::string_view v) {
  appendBigEndian<uint32_t>(out, static_cast<uint32_t>(v.size()));
  out.append(v);
}

void appendInt8(std::string& out, uint64_t v) {
  appendBigEndian<uint32_t>(out, 8);
  appendBigEndian<uint64_t>(out, v);
}

// The store itself.
class StoreShape final : public CommitShape {
 public:
  explicit StoreShape(const std::string& dsn) : store_(hub::PostgresStoreOptions{dsn}) {}
  void commit(const WriteSet& batch) override { store_.commit(batch, true); }

 private:
  hub::PostgresHistoryStore store_;
};

// A raw connection with the store's statements prepared, plus the shapes' own.
class RawShape : public CommitShape {
 public:
  RawShape(std::string name, const std::string& dsn) : name_(std::move(name)) {
    hub::PostgresHistoryStore schema(hub::PostgresStoreOptions{dsn});  // creates the tables
    conn_ = PQconnectdb(dsn.c_str());
    if (PQstatus(conn_) != CONNECTION_OK) fail("connect");
    for (const pg::Statement& s : pg::statements()) {
      prepare(s.name, s.sql, s.types);
      if (std::string_view(s.name) == "put_messages") prepare("put_messages_plain", kPutMessagesPlain, s.types);
      if (std::string_view(s.name) == "put_dedups") prepare("put_dedups_plain", kPutDedupsPlain, s.types);
    }
    prepare("cte", kCte, {});
    exec("CREATE TEMP TABLE webim_stage_message (LIKE webim_message) ON COMMIT DELETE ROWS");
    prepare("stage_upsert", kStageUpsert, {});
  }
  ~RawShape() override { PQfinish(conn_); }

  void commit(const WriteSet& batch) override {
    if (name_ == "copy" || name_ == "copy-stage") return copyCommit(batch);
    pg::CommitArrays a = pg::commitArrays(batch);
    if (PQenterPipelineMode(conn_) != 1) fail("pipeline");
    int n = 0;
    const bool cte = name_ == "cte";
    if (!cte) n += send("BEGIN");
    if (name_ == "upsert-nosync") n += send("SET LOCAL synchronous_commit TO off");
    if (cte) {
      n += sendPrepared("cte", {&a.mChannel.finish(), &a.mSeq.finish(), &a.mEpoch.finish(), &a.mFrom.finish(),
                                &a.mTs.finish(), &a.mData.finish(), &a.cChannel.finish(), &a.cEpoch.finish(),
                                &a.cLast.finish(), &a.dFrom.finish(), &a.dCid.finish(), &a.dChannel.finish(),
                                &a.dEpoch.finish(), &a.dSeq.finish(), &a.dTs.finish()});
    } else {
      n += sendPrepared(name_.starts_with("upsert") ? "put_messages" : "put_messages_plain",
                        {&a.mChannel.finish(), &a.mSeq.finish(), &a.mEpoch.finish(), &a.mFrom.finish(),
                         &a.mTs.finish(), &a.mData.finish()});
      n += sendMetasDedups(a, name_ == "plain");
      n += send("COMMIT");
    }
    drain(n);
  }

 private:
  // BEGIN + COPY (one simple query), the data, then the rest in one pipeline.
  void copyCommit(const WriteSet& batch) {
    const bool stage = name_ == "copy-stage";
    const std::string copy = copyMessages(batch);
    pg::CommitArrays a = pg::commitArrays(WriteSet{{}, batch.metas, batch.dedups, {}, {}, {}, {}});
    if (PQsendQuery(conn_, stage ? "BEGIN; COPY webim_stage_message FROM STDIN (FORMAT binary)"
                                 : "BEGIN; COPY webim_message FROM STDIN (FORMAT binary)") != 1)
      fail("send copy");
    for (;;) {
      Res r(PQgetResult(conn_));
      if (!r) fail("copy: no COPY_IN");
      if (PQresultStatus(r.get()) == PGRES_COPY_IN) break;
      if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) fail("begin");
    }
    if (PQputCopyData(conn_, copy.data(), static_cast<int>(copy.size())) != 1 || PQputCopyEnd(conn_, nullptr) != 1)
      fail("copy data");
    for (Res r(PQgetResult(conn_)); r; r.reset(PQgetResult(conn_)))
      if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) fail("copy");
    if (PQenterPipelineMode(conn_) != 1) fail("pipeline");
    int n = 0;
    if (stage) n += sendPrepared("stage_upsert", {});
    n += sendMetasDedups(a);
    n += send("COMMIT");
    drain(n);
  }

  int sendMetasDedups(pg::CommitArrays& a, bool plainDedups = false) {
    int n = 0;
    if (a.metaRows > 0) n += sendPrepared("put_metas", {&a.cChannel.finish(), &a.cEpoch.finish(), &a.cLast.finish()});
    if (a.dedupRows > 0)
      n += sendPrepared(plainDedups ? "put_dedups_plain" : "put_dedups", {&a.dFrom.finish(), &a.dCid.finish(), &a.dChannel.finish(), &a.dEpoch.finish(),
                                       &a.dSeq.finish(), &a.dTs.finish()});
    return n;
  }

  int send(const char* sql) {
    if (PQsendQueryParams(conn_, sql, 0, nullptr, nullptr, nullptr, nullptr, 0) != 1) fail(sql);
    return 1;
  }

  int sendPrepared(const char* name, const std::vector<const std::string*>& params) {
    std::vector<const char*> values;
    std::vector<int> lengths, formats(params.size(), 1);
    for (const std::string* p : params) {
      values.push_back(p->data());
      lengths.push_back(static_cast<int>(p->size()));
    }
    if (PQsendQueryPrepared(conn_, name, static_cast<int>(params.size()), values.data(), lengths.data(),
                            formats.data(), 1) != 1)
      fail(name);
    return 1;
  }

  void drain(int n) {
    if (PQpipelineSync(conn_) != 1) fail("sync");
    std::string error;
    for (int i = 0; i < n; ++i) {
      Res r(PQgetResult(conn_));
      if (!r) fail("pipeline result");
      const ExecStatusType st = PQresultStatus(r.get());
      if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && error.empty()) error = PQresultErrorMessage(r.get());
      Res end(PQgetResult(conn_));
    }
    Res sync(PQgetResult(conn_));
    PQexitPipelineMode(conn_);
    if (!error.empty()) {
      Res rb(PQexec(conn_, "ROLLBACK"));
      throw std::runtime_error(name_ + ": " + error);
    }
  }

  void prepare(const char* name, const char* sql, const std::vector<uint32_t>& types) {
    Res r(PQprepare(conn_, name, sql, static_cast<int>(types.size()), types.data()));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) fail(std::string("prepare ") + name);
  }

  void exec(const char* sql) {
    Res r(PQexec(conn_, sql));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) fail(sql);
  }

  [[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error(name_ + ": " + what + ": " + PQerrorMessage(conn_));
  }

  std::string name_;
  PGconn* conn_ = nullptr;
};

}  // namespace

std::vector<std::string> shapeNames() {
  return {"upsert", "upsert-nosync", "store", "unnest-plain", "plain", "cte", "copy", "copy-stage"};
}

std::unique_ptr<CommitShape> makeShape(const std::string& name, const std::string& dsn) {
  if (name == "store") return std::make_unique<StoreShape>(dsn);
  return std::make_unique<RawShape>(name, dsn);
}

std::string copyMessages(const WriteSet& batch) {
  std::string out("PGCOPY\n\377\r\n\0", 11);
  appendBigEndian<uint32_t>(out, 0);  // flags
  appendBigEndian<uint32_t>(out, 0);  // header extension length
  for (const hub::StoredMessage& m : batch.messages) {
    appendBigEndian<uint16_t>(out, 6);
    appendField(out, m.channel);
    appendInt8(out, m.seq);
    appendInt8(out, m.epoch);
    appendField(out, m.from);
    appendInt8(out, static_cast<uint64_t>(m.tsMs));
    appendField(out, m.data);
  }
  appendBigEndian<uint16_t>(out, 0xffff);  // trailer
  return out;
}

}  // namespace webim::bench
