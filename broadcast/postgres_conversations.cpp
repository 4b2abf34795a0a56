// The PostgreSQL store's conversations (docs/architecture.md "Conversations"; tables
// webim_conversation and webim_outbox, webim_message.notice_of: schema step 6, postgres_sql.cpp):
// a commit's rows and statements, and the reads.
#include "broadcast/conversation_records.h"
#include "broadcast/postgres_batch.h"
#include "broadcast/postgres_session.h"
#include "broadcast/postgres_store.h"

namespace webim::hub {

namespace pg {

void addConversations(CommitArrays& a, const WriteSet& batch) {
  // One row per key: ON CONFLICT DO UPDATE touches a row once per statement.
  for (const ConversationTouch& t : conv::mergeTouches(batch.conversations)) {
    a.tUser.addBytes(t.user);
    a.tChannel.addBytes(t.channel);
    a.tTs.addInt8(static_cast<uint64_t>(t.tsMs));
    a.tSeq.addInt8(t.seq);
    ++a.touchRows;
  }
  for (const OutboxEntry& e : batch.outbox) {
    a.oUser.addBytes(e.user);
    a.oChannel.addBytes(e.dm);
    a.oSeq.addInt8(e.seq);
    a.oFrom.addBytes(e.from);
    a.oTs.addInt8(static_cast<uint64_t>(e.tsMs));
    ++a.outboxRows;
  }
  for (const OutboxEntry& e : batch.outboxDone) {
    a.odUser.addBytes(e.user);
    a.odChannel.addBytes(e.dm);
    a.odSeq.addInt8(e.seq);
    ++a.outboxDoneRows;
  }
}

int sendConversations(Session& s, CommitArrays& a) {
  int n = 0;
  if (a.noticeRows > 0) {
    if (!s.sendPrepared("mark_notices", {&a.nChannel.finish(), &a.nSeq.finish(), &a.nOf.finish()})) return -1;
    ++n;
  }
  if (a.touchRows > 0) {
    if (!s.sendPrepared("put_conversations", {&a.tUser.finish(), &a.tChannel.finish(), &a.tTs.finish(), &a.tSeq.finish()}))
      return -1;
    ++n;
  }
  if (a.outboxRows > 0) {
    if (!s.sendPrepared("put_outbox",
                        {&a.oUser.finish(), &a.oChannel.finish(), &a.oSeq.finish(), &a.oFrom.finish(), &a.oTs.finish()}))
      return -1;
    ++n;
  }
  if (a.outboxDoneRows > 0) {
    if (!s.sendPrepared("delete_outbox", {&a.odUser.finish(), &a.odChannel.finish(), &a.odSeq.finish()})) return -1;
    ++n;
  }
  return n;
}

}  // namespace pg

ConversationPage PostgresHistoryStore::loadConversations(const ConversationQuery& query) {
  pg::Params p;
  p.add(query.user);
  if (query.hasBefore) {
    p.addInt8(static_cast<uint64_t>(query.beforeTs));
    p.add(query.beforeChannel);
  }
  p.addInt8(static_cast<uint64_t>(query.limit) + 1);
  pg::Result r = session_->query(query.hasBefore ? "conversations_before" : "conversations_first", p);
  ConversationPage page;
  const int rows = PQntuples(r.get());
  for (int i = 0; i < rows; ++i) {
    if (page.items.size() == query.limit) {
      page.more = true;
      break;
    }
    page.items.push_back(ConversationItem{std::string(pg::field(r.get(), i, 0)),
                                          static_cast<int64_t>(pg::int8Field(r.get(), i, 1)), pg::int8Field(r.get(), i, 2)});
  }
  return page;
}

std::vector<OutboxEntry> PostgresHistoryStore::loadOutbox(const std::optional<OutboxEntry>& after, size_t limit) {
  pg::Params p;
  if (after) {
    p.add(after->user);
    p.add(after->dm);
    p.addInt8(after->seq);
  }
  p.addInt8(limit);
  pg::Result r = session_->query(after ? "outbox_after" : "outbox_first", p);
  std::vector<OutboxEntry> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    out.push_back(OutboxEntry{std::string(pg::field(r.get(), i, 0)), std::string(pg::field(r.get(), i, 1)),
                              pg::int8Field(r.get(), i, 2), std::string(pg::field(r.get(), i, 3)),
                              static_cast<int64_t>(pg::int8Field(r.get(), i, 4))});
  }
  return out;
}

}  // namespace webim::hub
