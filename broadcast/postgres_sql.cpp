#include "broadcast/postgres_sql.h"

#include "broadcast/postgres_codec.h"

namespace webim::hub::pg {

const char* const kVersionTableSql = R"sql(
CREATE TABLE IF NOT EXISTS webim_store (
  name  text  PRIMARY KEY,
  value bytea NOT NULL);
)sql";

// Step 1 is the schema of the releases before the schema version (format 0): on a database they
// wrote, every statement is a no-op (IF NOT EXISTS), so such a database simply gets version 1.
constexpr const char* kBaselineSql = R"sql(
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

// Read cursors (read_cursors.h): by channel (the primary key) and by user (the index).
constexpr const char* kReadCursorsSql = R"sql(
CREATE TABLE IF NOT EXISTS webim_read_cursor (
  channel text   NOT NULL,
  user_id bytea  NOT NULL,
  seq     bigint NOT NULL,
  PRIMARY KEY (channel, user_id));
CREATE INDEX IF NOT EXISTS webim_read_cursor_user ON webim_read_cursor (user_id);
)sql";

// Presence: each user's last seen (docs/architecture.md "Presence"), written with the batches.
constexpr const char* kLastSeenSql = R"sql(
CREATE TABLE IF NOT EXISTS webim_last_seen (
  user_id bytea  PRIMARY KEY,
  seen_ms bigint NOT NULL);
)sql";

// Step 4, edit and delete (docs/protocol.md "Edit and delete"): constant defaults, so adding the
// columns rewrites no row (PostgreSQL >= 11); and the per-sender index erase_user walks (the
// messages not deleted: a deleted one leaves it), and the edits of each message (a delete redacts them).
constexpr const char* kEditsSql = R"sql(
ALTER TABLE webim_message
  ADD COLUMN IF NOT EXISTS edit_of   bigint  NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS delete_of bigint  NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS deleted   boolean NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS webim_message_sender ON webim_message (sender) WHERE NOT deleted;
CREATE INDEX IF NOT EXISTS webim_message_edits ON webim_message (channel, edit_of) WHERE edit_of <> 0;
)sql";

// The unread index (docs/architecture.md "Read cursors"): the seqs unread does not count (edit and
// delete entries, deleted or erased messages), counted by range per channel without touching the
// channel's other messages.
constexpr const char* kUncountedSql = R"sql(
CREATE INDEX IF NOT EXISTS webim_message_uncounted ON webim_message (channel, seq)
  WHERE edit_of <> 0 OR delete_of <> 0 OR deleted;
)sql";

// Step 6, conversations (docs/architecture.md "Conversations"): dm notices (notice_of: the dm seq;
// data holds the dm channel's name, as in RocksDB), the conversation index (most recent first per
// user: the index is a page's range) and the outbox of notices for other shards.
constexpr const char* kConversationsSql = R"sql(
ALTER TABLE webim_message ADD COLUMN IF NOT EXISTS notice_of bigint NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS webim_conversation (
  user_id bytea  NOT NULL,
  channel text   NOT NULL,
  ts_ms   bigint NOT NULL,
  seq     bigint NOT NULL,
  PRIMARY KEY (user_id, channel));
CREATE INDEX IF NOT EXISTS webim_conversation_recent ON webim_conversation (user_id, ts_ms DESC, channel);
CREATE TABLE IF NOT EXISTS webim_outbox (
  user_id bytea  NOT NULL,
  channel text   NOT NULL,
  seq     bigint NOT NULL,
  sender  bytea  NOT NULL,
  ts_ms   bigint NOT NULL,
  PRIMARY KEY (user_id, channel, seq));
)sql";

const std::vector<SchemaStep>& schemaSteps() {
  static const std::vector<SchemaStep> list = {
      {1, "baseline: channels, messages, dedup records, revocations, store values", kBaselineSql},
      {2, "read cursors", kReadCursorsSql},
      {3, "presence: last seen per user", kLastSeenSql},
      {4, "edit and delete: webim_message.edit_of, delete_of, deleted; the per-sender index", kEditsSql},
      {5, "the unread index: edit and delete entries, deleted messages", kUncountedSql},
      {6, "conversations: webim_message.notice_of, webim_conversation, webim_outbox", kConversationsSql},
  };
  return list;
}

namespace {

// A batch's writes (PostgresHistoryStore::commit) and their undo.
std::vector<Statement> writeStatements() {
  return {
      {"put_messages",
       "INSERT INTO webim_message (channel, seq, epoch, sender, ts_ms, data) "
       "SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::bytea[], $5::int8[], $6::bytea[]) "
       "ON CONFLICT (channel, seq) DO UPDATE SET epoch = excluded.epoch, sender = excluded.sender, "
       "ts_ms = excluded.ts_ms, data = excluded.data, edit_of = 0, delete_of = 0, deleted = false, notice_of = 0",
       {kTextArrayOid, kInt8ArrayOid, kInt8ArrayOid, kByteaArrayOid, kInt8ArrayOid, kByteaArrayOid}},
      // The fast path of a commit: plain inserts (no ON CONFLICT: no speculative insertion). A
      // batch that rewrites a key fails with unique_violation and is sent again with the upserts.
      {"insert_messages",
       "INSERT INTO webim_message (channel, seq, epoch, sender, ts_ms, data) "
       "SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::bytea[], $5::int8[], $6::bytea[])",
       {kTextArrayOid, kInt8ArrayOid, kInt8ArrayOid, kByteaArrayOid, kInt8ArrayOid, kByteaArrayOid}},
      {"insert_dedups",
       "INSERT INTO webim_dedup (sender, cid, channel, epoch, seq, ts_ms) "
       "SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::text[], $4::int8[], $5::int8[], $6::int8[])",
       {kByteaArrayOid, kByteaArrayOid, kTextArrayOid, kInt8ArrayOid, kInt8ArrayOid, kInt8ArrayOid}},
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
      // Edit and delete: a batch's entries get their reference (after their insert), and a delete
      // removes its message's data (docs/protocol.md "Edit and delete").
      {"mark_entries",
       "UPDATE webim_message m SET edit_of = u.edit_of, delete_of = u.delete_of "
       "FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[]) AS u(channel, seq, edit_of, delete_of) "
       "WHERE m.channel = u.channel AND m.seq = u.seq",
       {kTextArrayOid, kInt8ArrayOid, kInt8ArrayOid, kInt8ArrayOid}},
      // A delete's message and its edits (found through webim_message_edits).
      {"redact_messages",
       "UPDATE webim_message m SET data = ''::bytea, deleted = true "
       "FROM unnest($1::text[], $2::int8[]) AS u(channel, seq) "
       "WHERE m.channel = u.channel AND (m.seq = u.seq OR (m.edit_of = u.seq AND m.edit_of <> 0))",
       {kTextArrayOid, kInt8ArrayOid}},
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
  };
}

std::vector<Statement> conversationStatements();

std::vector<Statement> withWrites(std::vector<Statement> reads) {
  std::vector<Statement> writes = writeStatements();
  reads.insert(reads.end(), writes.begin(), writes.end());
  std::vector<Statement> conversations = conversationStatements();
  reads.insert(reads.end(), conversations.begin(), conversations.end());
  return reads;
}

// Conversations (postgres_conversations.cpp): dm notices, the conversation index, the outbox.
std::vector<Statement> conversationStatements() {
  return {
      {"mark_notices",
       "UPDATE webim_message m SET notice_of = u.notice_of "
       "FROM unnest($1::text[], $2::int8[], $3::int8[]) AS u(channel, seq, notice_of) "
       "WHERE m.channel = u.channel AND m.seq = u.seq",
       {kTextArrayOid, kInt8ArrayOid, kInt8ArrayOid}},
      {"put_conversations",
       "INSERT INTO webim_conversation (user_id, channel, ts_ms, seq) "
       "SELECT * FROM unnest($1::bytea[], $2::text[], $3::int8[], $4::int8[]) "
       "ON CONFLICT (user_id, channel) DO UPDATE SET ts_ms = excluded.ts_ms, seq = excluded.seq "
       "WHERE excluded.ts_ms > webim_conversation.ts_ms OR "
       "(excluded.ts_ms = webim_conversation.ts_ms AND excluded.seq > webim_conversation.seq)",
       {kByteaArrayOid, kTextArrayOid, kInt8ArrayOid, kInt8ArrayOid}},
      {"conversations_first",
       "SELECT channel, ts_ms, seq FROM webim_conversation WHERE user_id = $1 ORDER BY ts_ms DESC, channel LIMIT $2",
       {kByteaOid, kInt8Oid}},
      {"conversations_before",
       "SELECT channel, ts_ms, seq FROM webim_conversation WHERE user_id = $1 AND "
       "(ts_ms < $2 OR (ts_ms = $2 AND channel > $3)) ORDER BY ts_ms DESC, channel LIMIT $4",
       {kByteaOid, kInt8Oid, kTextOid, kInt8Oid}},
      {"put_outbox",
       "INSERT INTO webim_outbox (user_id, channel, seq, sender, ts_ms) "
       "SELECT * FROM unnest($1::bytea[], $2::text[], $3::int8[], $4::bytea[], $5::int8[]) ON CONFLICT DO NOTHING",
       {kByteaArrayOid, kTextArrayOid, kInt8ArrayOid, kByteaArrayOid, kInt8ArrayOid}},
      {"delete_outbox",
       "DELETE FROM webim_outbox o USING unnest($1::bytea[], $2::text[], $3::int8[]) AS u(user_id, channel, seq) "
       "WHERE o.user_id = u.user_id AND o.channel = u.channel AND o.seq = u.seq",
       {kByteaArrayOid, kTextArrayOid, kInt8ArrayOid}},
      {"outbox_first",
       "SELECT user_id, channel, seq, sender, ts_ms FROM webim_outbox ORDER BY user_id, channel, seq LIMIT $1",
       {kInt8Oid}},
      {"outbox_after",
       "SELECT user_id, channel, seq, sender, ts_ms FROM webim_outbox WHERE (user_id, channel, seq) > ($1, $2, $3) "
       "ORDER BY user_id, channel, seq LIMIT $4",
       {kByteaOid, kTextOid, kInt8Oid, kInt8Oid}},
  };
}

}  // namespace

const std::vector<Statement>& statements() {
  static const std::vector<Statement> list = withWrites({
      {"meta_get", "SELECT epoch, last_seq FROM webim_channel WHERE channel = $1", {kTextOid}},
      // The store's epoch seed (the first hub to ask makes it, every later one reads it); the hub's
      // named values (HistoryStore::storeValue) under "value/<name>".
      {"seed_put", "INSERT INTO webim_store (name, value) VALUES ('epoch_seed', $1) ON CONFLICT (name) DO NOTHING", {kByteaOid}},
      {"seed_get", "SELECT value FROM webim_store WHERE name = 'epoch_seed'", {}},
      {"value_get", "SELECT value FROM webim_store WHERE name = 'value/' || $1", {kTextOid}},
      {"value_put", "INSERT INTO webim_store (name, value) VALUES ('value/' || $1, $2) ON CONFLICT (name) DO UPDATE SET value = $2", {kTextOid, kByteaOid}},
      {"metas_get", "SELECT channel, epoch, last_seq FROM webim_channel WHERE channel = ANY($1::text[])",
       {kTextArrayOid}},
      {"dedup_get", "SELECT channel, epoch, seq, ts_ms FROM webim_dedup WHERE sender = $1 AND cid = $2",
       {kByteaOid, kByteaOid}},
      {"channel_count", "SELECT count(*) FROM webim_channel", {}},
      // One statement (one snapshot) for the meta and the page; limit is the page size + 1.
      {"page_after",
       "SELECT c.epoch, c.last_seq, m.seq, m.epoch, m.sender, m.ts_ms, m.data, m.edit_of, m.delete_of, m.deleted, "
       "m.notice_of FROM webim_channel c LEFT JOIN LATERAL (SELECT seq, epoch, sender, ts_ms, data, edit_of, delete_of, "
       "deleted::int4::int8 AS deleted, notice_of FROM webim_message "
       "WHERE channel = c.channel AND seq > $2 ORDER BY seq LIMIT $3) m ON true WHERE c.channel = $1",
       {kTextOid, kInt8Oid, kInt8Oid}},
      {"page_before",
       "SELECT c.epoch, c.last_seq, m.seq, m.epoch, m.sender, m.ts_ms, m.data, m.edit_of, m.delete_of, m.deleted, "
       "m.notice_of FROM webim_channel c LEFT JOIN LATERAL (SELECT seq, epoch, sender, ts_ms, data, edit_of, delete_of, "
       "deleted::int4::int8 AS deleted, notice_of FROM webim_message "
       "WHERE channel = c.channel AND seq < $2 ORDER BY seq DESC LIMIT $3) m ON true "
       "WHERE c.channel = $1",
       {kTextOid, kInt8Oid, kInt8Oid}},
      // Erasing a user (HistoryStore::eraseSender): a slice of the sender's messages not deleted.
      {"erase_sender",
       "UPDATE webim_message m SET data = ''::bytea, deleted = true FROM (SELECT channel, seq FROM webim_message "
       "WHERE sender = $1 AND NOT deleted LIMIT $2) s WHERE m.channel = s.channel AND m.seq = s.seq",
       {kByteaOid, kInt8Oid}},
      {"count_sender", "SELECT count(*) FROM (SELECT 1 FROM webim_message WHERE sender = $1 AND NOT deleted LIMIT $2) s",
       {kByteaOid, kInt8Oid}},
      {"dedup_keys_since", "SELECT sender, cid FROM webim_dedup WHERE ts_ms >= $1", {kInt8Oid}},
      // Kick revocations: the latest per user wins.
      {"put_revocations",
       "INSERT INTO webim_revocation (user_id, not_before_ms) SELECT * FROM unnest($1::bytea[], $2::int8[]) "
       "ON CONFLICT (user_id) DO UPDATE SET not_before_ms = GREATEST(webim_revocation.not_before_ms, "
       "excluded.not_before_ms)",
       {kByteaArrayOid, kInt8ArrayOid}},
      // Read cursors: monotonic (GREATEST), read many at once.
      {"put_cursors",
       "INSERT INTO webim_read_cursor (channel, user_id, seq) SELECT * FROM unnest($1::text[], $2::bytea[], $3::int8[]) "
       "ON CONFLICT (channel, user_id) DO UPDATE SET seq = GREATEST(webim_read_cursor.seq, excluded.seq)",
       {kTextArrayOid, kByteaArrayOid, kInt8ArrayOid}},
      {"cursors_get",
       "SELECT c.channel, c.user_id, c.seq FROM webim_read_cursor c "
       "JOIN unnest($1::text[], $2::bytea[]) AS u(channel, user_id) ON c.channel = u.channel AND c.user_id = u.user_id",
       {kTextArrayOid, kByteaArrayOid}},
      // Unread counts: per range (after, up_to] of a channel, the seqs that are no unread message
      // (through webim_message_uncounted), in the order asked.
      {"uncounted_get",
       "SELECT (SELECT count(*) FROM webim_message m WHERE m.channel = u.channel AND m.seq > u.after "
       "AND m.seq <= u.up_to AND (m.edit_of <> 0 OR m.delete_of <> 0 OR m.deleted)) "
       "FROM unnest($1::text[], $2::int8[], $3::int8[]) WITH ORDINALITY AS u(channel, after, up_to, i) ORDER BY u.i",
       {kTextArrayOid, kInt8ArrayOid, kInt8ArrayOid}},
      {"revocations_since", "SELECT user_id, not_before_ms FROM webim_revocation WHERE not_before_ms >= $1",
       {kInt8Oid}},
      {"trim_revocations", "DELETE FROM webim_revocation WHERE not_before_ms < $1", {kInt8Oid}},
      // Presence: last seen per user, the latest wins; read for an `online` query.
      {"put_last_seen",
       "INSERT INTO webim_last_seen (user_id, seen_ms) SELECT * FROM unnest($1::bytea[], $2::int8[]) "
       "ON CONFLICT (user_id) DO UPDATE SET seen_ms = GREATEST(webim_last_seen.seen_ms, excluded.seen_ms)",
       {kByteaArrayOid, kInt8ArrayOid}},
      {"last_seen_get", "SELECT user_id, seen_ms FROM webim_last_seen WHERE user_id = ANY($1::bytea[])",
       {kByteaArrayOid}},
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
  });
  return list;
}

}  // namespace webim::hub::pg
