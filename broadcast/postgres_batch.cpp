#include "broadcast/postgres_batch.h"

#include <algorithm>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "broadcast/dedup_filter.h"

namespace webim::hub::pg {

namespace {

// The last occurrence per key, in batch order.
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

void addMessages(CommitArrays& a, const std::vector<StoredMessage>& messages) {
  for (const StoredMessage* m : lastPerKey(messages, [](const StoredMessage& m) {
         std::string k = m.channel;
         k.push_back('\0');
         k.append(reinterpret_cast<const char*>(&m.seq), sizeof m.seq);
         return k;
       })) {
    a.mChannel.addBytes(m->channel);
    a.mSeq.addInt8(m->seq);
    a.mEpoch.addInt8(m->epoch);
    a.mFrom.addBytes(m->from);
    a.mTs.addInt8(static_cast<uint64_t>(m->tsMs));
    a.mData.addBytes(m->noticeSeq != 0 ? m->noticeChannel : m->data);  // a dm notice: its dm's name
    ++a.messageRows;
    if (m->noticeSeq != 0) {
      a.nChannel.addBytes(m->channel);
      a.nSeq.addInt8(m->seq);
      a.nOf.addInt8(m->noticeSeq);
      ++a.noticeRows;
    }
    if (m->editOf != 0 || m->deleteOf != 0) {
      a.eChannel.addBytes(m->channel);
      a.eSeq.addInt8(m->seq);
      a.eEditOf.addInt8(m->editOf);
      a.eDeleteOf.addInt8(m->deleteOf);
      ++a.entryRows;
    }
  }
}

void addDedups(CommitArrays& a, const std::vector<DedupEntry>& dedups) {
  for (const DedupEntry* d : lastPerKey(dedups, [](const DedupEntry& d) {
         std::string k = d.from;
         k.push_back('\0');
         k.append(d.cid);
         return k;
       })) {
    a.dFrom.addBytes(d->from);
    a.dCid.addBytes(d->cid);
    a.dChannel.addBytes(d->record.channel);
    a.dEpoch.addInt8(d->record.epoch);
    a.dSeq.addInt8(d->record.seq);
    a.dTs.addInt8(static_cast<uint64_t>(d->record.tsMs));
    a.dedupHashes.push_back(dedupKeyHash(d->from, d->cid));
    ++a.dedupRows;
  }
}

}  // namespace

CommitArrays commitArrays(const WriteSet& batch) {
  CommitArrays a;
  addMessages(a, batch.messages);
  for (const MetaEntry* m : lastPerKey(batch.metas, [](const MetaEntry& m) { return m.channel; })) {
    a.cChannel.addBytes(m->channel);
    a.cEpoch.addInt8(m->meta.epoch);
    a.cLast.addInt8(m->meta.lastSeq);
    ++a.metaRows;
  }
  addDedups(a, batch.dedups);
  for (const Revocation* r : lastPerKey(batch.revocations, [](const Revocation& r) { return r.user; })) {
    a.rUser.addBytes(r->user);
    a.rNotBefore.addInt8(static_cast<uint64_t>(r->notBeforeMs));
    ++a.revocationRows;
  }
  for (const ReadCursor& c : batch.cursors) {  // one per key already (hub_reads.cpp); GREATEST keeps it monotonic
    a.uChannel.addBytes(c.channel);
    a.uUser.addBytes(c.user);
    a.uSeq.addInt8(c.seq);
    ++a.cursorRows;
  }
  for (const PresenceLastSeen* s : lastPerKey(batch.lastSeen, [](const PresenceLastSeen& s) { return s.user; })) {
    a.lUser.addBytes(s->user);
    a.lSeen.addInt8(static_cast<uint64_t>(s->seenMs));
    ++a.lastSeenRows;
  }
  for (const Redaction& r : batch.redactions) {
    a.xChannel.addBytes(r.channel);
    a.xSeq.addInt8(r.seq);
    ++a.redactionRows;
  }
  addConversations(a, batch);
  return a;
}

UndoArrays undoArrays(const WriteSet& batch) {
  UndoArrays u;
  std::unordered_map<std::string, uint64_t> firstSeq;
  for (const StoredMessage& m : batch.messages) {
    u.msgChannels.addBytes(m.channel);
    u.msgSeqs.addInt8(m.seq);
    auto [it, added] = firstSeq.emplace(m.channel, m.seq);
    if (!added) it->second = std::min(it->second, m.seq);
  }
  for (const DedupEntry& d : batch.dedups) {
    u.dedupFroms.addBytes(d.from);
    u.dedupCids.addBytes(d.cid);
    u.dedupChannels.addBytes(d.record.channel);
    u.dedupSeqs.addInt8(d.record.seq);
  }
  for (const MetaEntry& m : batch.metas) {
    auto it = firstSeq.find(m.channel);
    if (it == firstSeq.end()) continue;
    u.metaChannels.addBytes(m.channel);
    u.metaEpochs.addInt8(m.meta.epoch);
    u.metaLast.addInt8(m.meta.lastSeq);
    u.metaRestore.addInt8(it->second - 1);
  }
  for (const OutboxEntry& e : batch.outbox) {
    u.outboxUsers.addBytes(e.user);
    u.outboxChannels.addBytes(e.dm);
    u.outboxSeqs.addInt8(e.seq);
  }
  return u;
}

}  // namespace webim::hub::pg
