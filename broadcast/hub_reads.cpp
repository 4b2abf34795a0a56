// Read cursors in the hub (docs/architecture.md "Read cursors"): a batch's `read` and `unread`
// requests are staged before its other requests, with one positions read (Sequencer::positions)
// and one cursor MultiGet (HistoryStore::loadCursors) for all of them. Each key that moved gets
// one cursor record in the batch's group commit; a read is answered once the batch is durable, and
// then its receipt goes out (publishReceipts), like a signal.
#include <unordered_map>
#include <unordered_set>

#include "broadcast/hub.h"
#include "common/topics.h"

namespace webim::hub {

namespace {

constexpr std::string_view kDmPrefix = "dm:";

// The channels and (channel, user) keys a batch's reads and unread queries name, each once.
struct ReadKeys {
  std::vector<std::string> channels;
  std::unordered_map<std::string, size_t> channelAt;
  std::vector<ReadCursor> keys;
  std::unordered_set<std::string> seen;

  void add(const std::string& channel, const std::string& user) {
    if (channelAt.emplace(channel, channels.size()).second) channels.push_back(channel);
    if (seen.insert(BatchCursors::key(channel, user)).second) keys.push_back({channel, user, 0});
  }
};

// Unread counts: last - cursor counts log entries; the seqs in (cursor, last] that are no unread
// message (edit and delete entries, deleted messages) are read from the store's index in one call
// for the whole batch and taken off. Only ranges with something unread are asked. A failed read
// fails the batch's unread queries (its reads go on). Batch: std::vector<Hub::Request>.
template <class Batch>
void subtractUncounted(Batch& batch, HistoryStore& store) {
  std::vector<HistoryStore::SeqRange> ranges;
  std::vector<std::pair<UnreadRequest*, size_t>> at;
  for (auto& r : batch) {
    auto* unread = std::get_if<UnreadRequest>(&r.request);
    if (unread == nullptr) continue;
    for (size_t i = 0; i < unread->counts.size(); ++i) {
      if (unread->counts[i] == 0) continue;
      ranges.push_back({unread->channels[i], unread->reads[i], unread->reads[i] + unread->counts[i]});
      at.emplace_back(unread, i);
    }
  }
  if (ranges.empty()) return;
  std::vector<uint64_t> uncounted;
  try {
    uncounted = store.countUncounted(ranges);
  } catch (const HistoryStoreError& e) {
    for (auto& r : batch) {
      if (std::holds_alternative<UnreadRequest>(r.request)) {
        r.request = RequestError{"unavailable", std::string("counting unread messages failed: ") + e.what()};
      }
    }
    return;
  }
  for (size_t k = 0; k < at.size(); ++k) {
    uint64_t& count = at[k].first->counts[at[k].second];
    count = withoutUncounted(count, uncounted[k]);
  }
}

}  // namespace

void Hub::stageReads(std::vector<Request>& batch) {
  ReadKeys k;
  for (Request& r : batch) {
    if (const auto* read = std::get_if<ReadCursorRequest>(&r.request)) k.add(read->channel, read->user);
    if (const auto* unread = std::get_if<UnreadRequest>(&r.request)) {
      for (const std::string& channel : unread->channels) {
        k.add(channel, unread->user);
        if (std::string peer = dmPeer(channel, unread->user); !peer.empty()) k.add(channel, peer);
      }
    }
  }
  if (k.keys.empty()) return;
  std::string error;
  std::optional<std::vector<ChannelMeta>> positions = sequencer_.positions(k.channels, error);
  std::vector<uint64_t> stored;
  if (positions) {
    try {
      stored = store_.loadCursors(k.keys);
    } catch (const HistoryStoreError& e) {
      error = e.what();
      positions.reset();
    }
  }
  if (!positions) {
    for (Request& r : batch) {
      if (std::holds_alternative<ReadCursorRequest>(r.request) || std::holds_alternative<UnreadRequest>(r.request)) {
        r.request = RequestError{"unavailable", "reading the read cursors failed: " + error};
      }
    }
    return;
  }
  BatchCursors cursors;
  for (size_t i = 0; i < k.keys.size(); ++i) cursors.setStored(BatchCursors::key(k.keys[i].channel, k.keys[i].user), stored[i]);
  auto lastOf = [&](const std::string& channel) { return (*positions)[k.channelAt.at(channel)].lastSeq; };
  for (Request& r : batch) {
    if (auto* read = std::get_if<ReadCursorRequest>(&r.request)) {
      auto [now, moved] = cursors.apply(BatchCursors::key(read->channel, read->user), read->seq, lastOf(read->channel));
      read->cursor = now;
      read->advanced = moved;
    } else if (auto* unread = std::get_if<UnreadRequest>(&r.request)) {
      for (const std::string& channel : unread->channels) {
        const uint64_t read = cursors.current(BatchCursors::key(channel, unread->user));
        const std::string peer = dmPeer(channel, unread->user);
        unread->counts.push_back(unread->countsWanted ? unreadCount(read, lastOf(channel)) : 0);
        unread->reads.push_back(read);
        unread->peerReads.push_back(peer.empty() ? 0 : cursors.current(BatchCursors::key(channel, peer)));
      }
    }
  }
  subtractUncounted(batch, store_);
  // One receipt per key that moved: on the last read that moved it (it carries the final value).
  std::unordered_set<std::string> receipted;
  for (auto it = batch.rbegin(); it != batch.rend(); ++it) {
    auto* read = std::get_if<ReadCursorRequest>(&it->request);
    if (read != nullptr && read->advanced && receipted.insert(BatchCursors::key(read->channel, read->user)).second) {
      read->receipt = true;
    }
  }
  for (const ReadCursor& key : k.keys) {
    const std::string name = BatchCursors::key(key.channel, key.user);
    if (!cursors.moved(name)) continue;
    sequencer_.stage(ReadCursor{key.channel, key.user, cursors.current(name)});
    ++stats_.cursorsWritten;
  }
}

void Hub::answer(Request& r, const ReadCursorRequest& read) {
  ++stats_.reads;
  if (r.form != ReplyForm::Frontend) return replyApp(r, encodeReadOk(read.cursor));
  wire::HubReply reply;
  reply.mutable_read_ack()->set_seq(read.cursor);
  reply.mutable_read_ack()->set_advanced(read.advanced);
  replyFrontend(r, reply);
}

void Hub::answer(Request& r, const UnreadRequest& unread) {
  ++stats_.unreads;
  if (r.form != ReplyForm::Frontend) return replyApp(r, encodeUnreadOk(unread));
  wire::HubReply reply;
  wire::UnreadCounts* counts = reply.mutable_unread();
  for (size_t i = 0; i < unread.counts.size(); ++i) {
    counts->add_counts(unread.counts[i]);
    counts->add_reads(unread.reads[i]);
    counts->add_peer_reads(unread.peerReads[i]);
  }
  replyFrontend(r, reply);
}

// dm: channels always; rooms and other namespaces when listed in receipt_namespaces.
bool Hub::receiptsFor(std::string_view channel) const {
  if (channel.substr(0, kDmPrefix.size()) == kDmPrefix) return true;
  if (channel.substr(0, kInboxPrefix.size()) == kInboxPrefix) return false;  // the reader's own devices: read_notice
  const std::string_view ns = channel.substr(0, channel.find(':'));
  for (const std::string& allowed : config_.receiptNamespaces) {
    if (allowed == ns) return true;
  }
  return false;
}

// After the batch's replies: the receipts of the cursors it moved, to the channel's subscribers.
void Hub::publishReceipts(const std::vector<Request>& batch) {
  for (const Request& r : batch) {
    if (r.ownRead) publishOwnReceipt(*r.ownRead);
    const auto* read = std::get_if<ReadCursorRequest>(&r.request);
    if (read == nullptr || !read->receipt) continue;
    if (receiptsFor(read->channel)) {
      publisher_.publishReceipt(read->channel, read->channel, read->user, read->cursor);
      ++stats_.receipts;
    }
    // The app's reads: no frontend tells the user's devices; this hub does when it owns the inbox.
    const std::string inbox = std::string(kInboxPrefix) + read->user;
    if (r.form != ReplyForm::Frontend && decoder_.scope().owns(inbox)) {
      publisher_.publishReceipt(inbox, read->channel, read->user, read->cursor);
    }
  }
}

}  // namespace webim::hub
