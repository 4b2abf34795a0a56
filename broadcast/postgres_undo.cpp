// The undo of a commit whose connection broke after it was sent (postgres_session.h): its outcome
// is unknown, the hub rolled its sequencer back, so the store deletes what the batch may have
// written before it serves anything else (UndoArrays says exactly what).
#include "broadcast/postgres_session.h"

namespace webim::hub::pg {

void Session::rememberUndo(const WriteSet& batch) { undo = std::make_unique<UndoArrays>(undoArrays(batch)); }

void Session::runUndo() {
  UndoArrays& u = *undo;
  std::string error = transaction([&] {
    if (!sendPrepared("undo_messages", {&u.msgChannels.finish(), &u.msgSeqs.finish()})) return -1;
    if (!sendPrepared("undo_dedups",
                      {&u.dedupFroms.finish(), &u.dedupCids.finish(), &u.dedupChannels.finish(), &u.dedupSeqs.finish()}))
      return -1;
    if (!sendPrepared("undo_metas", {&u.metaChannels.finish(), &u.metaEpochs.finish(), &u.metaLast.finish(),
                                     &u.metaRestore.finish()}))
      return -1;
    if (!sendPrepared("delete_outbox", {&u.outboxUsers.finish(), &u.outboxChannels.finish(), &u.outboxSeqs.finish()}))
      return -1;
    return 4;
  });
  if (!error.empty()) {
    if (connectionBroken()) disconnect();
    throw HistoryStoreError("postgres: undoing a batch of unknown outcome failed: " + error);
  }
  undo.reset();
}

}  // namespace webim::hub::pg
