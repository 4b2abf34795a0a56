// A WriteSet as the PostgreSQL store sends it (pure: no I/O): one array per column, so a table's
// rows go in one INSERT .. SELECT FROM unnest(arrays) (postgres_sql.h). Also the arrays that undo
// a batch of unknown outcome (postgres_undo.cpp).
#pragma once

#include <cstdint>
#include <vector>

#include "broadcast/history_store.h"
#include "broadcast/postgres_codec.h"

namespace webim::hub::pg {

// The rows of one commit. A WriteSet may write a key twice (the last write wins, as in a RocksDB
// batch), but a plain INSERT fails on the second and ON CONFLICT DO UPDATE refuses to touch one
// row twice in a statement: only the last occurrence of each key is kept.
struct CommitArrays {
  uint32_t messageRows = 0, metaRows = 0, dedupRows = 0, revocationRows = 0, cursorRows = 0, lastSeenRows = 0;
  // webim_message: channel, seq, epoch, sender, ts_ms, data
  ArrayParam mChannel{kTextOid}, mSeq{kInt8Oid}, mEpoch{kInt8Oid}, mFrom{kByteaOid}, mTs{kInt8Oid},
      mData{kByteaOid};
  // webim_channel: channel, epoch, last_seq
  ArrayParam cChannel{kTextOid}, cEpoch{kInt8Oid}, cLast{kInt8Oid};
  // webim_dedup: sender, cid, channel, epoch, seq, ts_ms
  ArrayParam dFrom{kByteaOid}, dCid{kByteaOid}, dChannel{kTextOid}, dEpoch{kInt8Oid}, dSeq{kInt8Oid},
      dTs{kInt8Oid};
  // webim_revocation: user_id, not_before_ms
  ArrayParam rUser{kByteaOid}, rNotBefore{kInt8Oid};
  // webim_read_cursor: channel, user_id, seq
  ArrayParam uChannel{kTextOid}, uUser{kByteaOid}, uSeq{kInt8Oid};
  // webim_last_seen: user_id, seen_ms (presence)
  ArrayParam lUser{kByteaOid}, lSeen{kInt8Oid};
  // Edit and delete: the batch's entries (channel, seq, edit_of, delete_of) and redactions
  // (channel, seq), applied after the inserts.
  uint32_t entryRows = 0, redactionRows = 0;
  ArrayParam eChannel{kTextOid}, eSeq{kInt8Oid}, eEditOf{kInt8Oid}, eDeleteOf{kInt8Oid};
  ArrayParam xChannel{kTextOid}, xSeq{kInt8Oid};
  // Conversations (postgres_conversations.cpp): dm notices (channel, seq, notice_of), the index's
  // touches (merged per key), the outbox's new and delivered entries.
  uint32_t noticeRows = 0, touchRows = 0, outboxRows = 0, outboxDoneRows = 0;
  ArrayParam nChannel{kTextOid}, nSeq{kInt8Oid}, nOf{kInt8Oid};
  ArrayParam tUser{kByteaOid}, tChannel{kTextOid}, tTs{kInt8Oid}, tSeq{kInt8Oid};
  ArrayParam oUser{kByteaOid}, oChannel{kTextOid}, oSeq{kInt8Oid}, oFrom{kByteaOid}, oTs{kInt8Oid};
  ArrayParam odUser{kByteaOid}, odChannel{kTextOid}, odSeq{kInt8Oid};
  std::vector<uint64_t> dedupHashes;  // dedupKeyHash of every dedup row (fed to the filter)
};

CommitArrays commitArrays(const WriteSet& batch);
void addConversations(CommitArrays& a, const WriteSet& batch);  // postgres_conversations.cpp
// Sends the conversation statements of a commit (inside Session::transaction); how many, -1 on a
// send failure.
class Session;
int sendConversations(Session& s, CommitArrays& a);

// Undoes a batch: deletes its messages and its dedup records (those still naming its channel and
// seq), and puts each of its channels' meta back to the seq before the batch's first message, if
// the meta still says what the batch wrote. A meta written without messages (a channel created
// for a subscriber) stays: the sequencer forgets such a channel on failure and reloads it.
struct UndoArrays {
  ArrayParam msgChannels{kTextOid}, msgSeqs{kInt8Oid};
  ArrayParam dedupFroms{kByteaOid}, dedupCids{kByteaOid}, dedupChannels{kTextOid}, dedupSeqs{kInt8Oid};
  ArrayParam metaChannels{kTextOid}, metaEpochs{kInt8Oid}, metaLast{kInt8Oid}, metaRestore{kInt8Oid};
  ArrayParam outboxUsers{kByteaOid}, outboxChannels{kTextOid}, outboxSeqs{kInt8Oid};  // its dm messages are gone
};

UndoArrays undoArrays(const WriteSet& batch);

}  // namespace webim::hub::pg
