#include "broadcast/sequencer.h"

#include <utility>

namespace webim::hub {

Sequencer::Sequencer(HistoryStore& store, EpochSource epochs, int64_t dedupTtlMs)
    : store_(store), epochs_(std::move(epochs)), dedupTtlMs_(dedupTtlMs) {}

std::string Sequencer::dedupKey(std::string_view from, std::string_view cid) {
  // from never contains '\0' (validated by the request decoders), so the key is unambiguous.
  std::string key;
  key.reserve(from.size() + 1 + cid.size());
  key.append(from);
  key.push_back('\0');
  key.append(cid);
  return key;
}

uint64_t Sequencer::newEpoch() {
  // 0 is reserved for "channel never written" in history replies.
  uint64_t epoch = 0;
  while (epoch == 0) epoch = epochs_();
  return epoch;
}

Sequencer::ChannelState* Sequencer::loadChannel(const std::string& channel, std::string& error) {
  auto it = channels_.find(channel);
  if (it != channels_.end()) return &it->second;
  std::optional<ChannelMeta> meta;
  try {
    meta = store_.loadMeta(channel);
  } catch (const HistoryStoreError& e) {
    error = e.what();
    return nullptr;
  }
  ChannelState state;
  if (meta) {
    state.epoch = meta->epoch;
    state.durableSeq = state.lastSeq = meta->lastSeq;
    state.durable = true;
  } else {
    state.epoch = newEpoch();
  }
  return &channels_.emplace(channel, state).first->second;
}

PublishOutcome Sequencer::sequence(PublishInput input, int64_t nowMs) {
  PublishOutcome out;
  std::string key;
  if (!input.cid.empty()) {
    key = dedupKey(input.from, input.cid);
    const DedupRecord* seen = nullptr;
    std::optional<DedupRecord> stored;
    if (auto it = pendingDedup_.find(key); it != pendingDedup_.end()) {
      seen = &it->second;
      out.pending = true;
    } else {
      try {
        stored = store_.loadDedup(input.from, input.cid);
      } catch (const HistoryStoreError& e) {
        out.status = PublishStatus::Unavailable;
        out.message = e.what();
        return out;
      }
      if (stored && nowMs - stored->tsMs <= dedupTtlMs_) seen = &*stored;
    }
    if (seen) {
      if (seen->channel != input.channel) {
        out.status = PublishStatus::BadRequest;
        out.message = "cid already used for another channel";
        out.pending = false;
        return out;
      }
      out.status = PublishStatus::Duplicate;
      out.epoch = seen->epoch;
      out.seq = seen->seq;
      return out;
    }
  }

  std::string error;
  ChannelState* state = loadChannel(input.channel, error);
  if (!state) {
    out.status = PublishStatus::Unavailable;
    out.message = error;
    return out;
  }
  const uint64_t seq = ++state->lastSeq;
  if (!state->touched) {
    state->touched = true;
    state->metaIndex = batch_.metas.size();
    batch_.metas.push_back({input.channel, {}});
    touched_.push_back(input.channel);
  }
  batch_.metas[state->metaIndex].meta = ChannelMeta{state->epoch, seq};

  if (!key.empty()) {
    DedupRecord record{input.channel, state->epoch, seq, nowMs};
    batch_.dedups.push_back({input.from, input.cid, record});
    pendingDedup_.emplace(std::move(key), std::move(record));
  }
  out.status = PublishStatus::Sequenced;
  out.epoch = state->epoch;
  out.seq = seq;
  out.pending = true;
  batch_.messages.push_back(StoredMessage{std::move(input.channel), state->epoch, seq,
                                          std::move(input.from), nowMs, std::move(input.data)});
  return out;
}

void Sequencer::commitSucceeded() {
  for (const std::string& name : touched_) {
    ChannelState& state = channels_.at(name);
    if (!state.durable) ++createdChannels_;
    state.durable = true;
    state.durableSeq = state.lastSeq;
    state.touched = false;
  }
  clearBatch();
}

void Sequencer::commitFailed() {
  for (const std::string& name : touched_) {
    auto it = channels_.find(name);
    if (!it->second.durable) {
      channels_.erase(it);  // reloaded from the store (or given a new epoch) on next use
      continue;
    }
    it->second.lastSeq = it->second.durableSeq;
    it->second.touched = false;
  }
  clearBatch();
}

void Sequencer::clearBatch() {
  batch_ = WriteSet{};
  touched_.clear();
  pendingDedup_.clear();
}

std::optional<ChannelMeta> Sequencer::ensureChannel(const std::string& channel, std::string& error) {
  ChannelState* state = loadChannel(channel, error);
  if (state == nullptr) return std::nullopt;
  if (!state->durable && !state->touched) {
    state->touched = true;
    state->metaIndex = batch_.metas.size();
    batch_.metas.push_back({channel, ChannelMeta{state->epoch, state->lastSeq}});
    touched_.push_back(channel);
  }
  return ChannelMeta{state->epoch, state->lastSeq};
}

std::optional<ChannelMeta> Sequencer::channelState(std::string_view channel) const {
  auto it = channels_.find(std::string(channel));
  if (it == channels_.end()) return std::nullopt;
  return ChannelMeta{it->second.epoch, it->second.lastSeq};
}

}  // namespace webim::hub
