#include "broadcast/sequencer.h"

#include <algorithm>
#include <unordered_set>
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

uint64_t Sequencer::epochFor(std::string_view channel) const {
  // 0 is never an epoch (the HTTP fallback's "no position yet").
  uint64_t epoch = epochs_(channel);
  return epoch == 0 ? 1 : epoch;
}

Sequencer::ChannelState* Sequencer::findChannel(const std::string& channel) {
  if (auto it = channels_.find(channel); it != channels_.end()) return &it->second;
  auto idle = idle_.find(channel);
  if (idle == idle_.end()) return nullptr;
  return &channels_.insert(idle_.extract(idle)).position->second;
}

void Sequencer::evictIdle() {
  idle_.clear();
  idle_.swap(channels_);
  // What a batch in flight wrote stays: its sync reports to it.
  for (const WriteSet& batch : inFlight_) {
    for (const MetaEntry& entry : batch.metas) findChannel(entry.channel);
  }
}

Sequencer::ChannelState* Sequencer::loadChannel(const std::string& channel, std::string& error) {
  if (ChannelState* state = findChannel(channel)) return state;
  std::optional<ChannelMeta> meta;
  try {
    meta = store_.loadMeta(channel);
  } catch (const HistoryStoreError& e) {
    error = e.what();
    return nullptr;
  }
  ChannelState state;
  state.fast = isFast(channel);
  state.generational = isGenerational(channel);
  if (meta) {
    state.epoch = state.generational ? epochFor(channel) : meta->epoch;
    state.durableSeq = state.lastSeq = state.shownSeq = meta->lastSeq;
    state.durable = true;
  } else {
    state.epoch = epochFor(channel);
  }
  return &channels_.emplace(channel, state).first->second;
}

std::optional<PublishOutcome> Sequencer::seenBefore(const PublishInput& input, int64_t nowMs) {
  if (input.cid.empty()) return std::nullopt;
  PublishOutcome out;
  const std::string& from = input.dedupFrom.empty() ? input.from : input.dedupFrom;
  const std::string key = dedupKey(from, input.cid);
  const DedupRecord* seen = nullptr;
  std::optional<DedupRecord> stored;
  if (auto it = pendingDedup_.find(key); it != pendingDedup_.end()) {
    seen = &it->second;
    out.pending = true;
  } else {
    try {
      stored = store_.loadDedup(from, input.cid);
    } catch (const HistoryStoreError& e) {
      out.status = PublishStatus::Unavailable;
      out.message = e.what();
      return out;
    }
    if (stored && nowMs - stored->tsMs <= dedupTtlMs_) seen = &*stored;
  }
  if (!seen) return std::nullopt;
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

PublishOutcome Sequencer::sequence(PublishInput input, int64_t nowMs) {
  if (std::optional<PublishOutcome> seen = seenBefore(input, nowMs)) return std::move(*seen);
  PublishOutcome out;
  std::string& dedupFrom = input.dedupFrom.empty() ? input.from : input.dedupFrom;
  std::string key = input.cid.empty() ? std::string() : dedupKey(dedupFrom, input.cid);
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
    batch_.dedups.push_back({dedupFrom, input.cid, record});
    pendingDedup_.emplace(std::move(key), std::move(record));
  }
  out.status = PublishStatus::Sequenced;
  out.epoch = state->epoch;
  out.seq = seq;
  out.pending = true;
  out.messageIndex = batch_.messages.size();
  batch_.messages.push_back(StoredMessage{std::move(input.channel), state->epoch, seq, std::move(input.from), nowMs,
                                          std::move(input.data), input.editOf, input.deleteOf, false,
                                          std::move(input.noticeChannel), input.noticeSeq});
  return out;
}

void Sequencer::seal() {
  for (const std::string& name : touched_) {
    ChannelState& state = *findChannel(name);
    state.touched = false;
    ++state.inFlight;
    if (state.fast) state.shownSeq = state.lastSeq;  // published now, before its sync
  }
  touched_.clear();
  inFlight_.push_back(std::move(batch_));
  batch_ = WriteSet{};
}

WriteSet Sequencer::commitSucceeded() {
  if (inFlight_.empty()) seal();
  WriteSet done = std::move(inFlight_.front());
  inFlight_.pop_front();
  for (const MetaEntry& entry : done.metas) {
    ChannelState& state = *findChannel(entry.channel);  // pinned while in flight
    if (!state.durable) ++createdChannels_;
    state.durable = true;
    state.durableSeq = entry.meta.lastSeq;
    state.shownSeq = std::max(state.shownSeq, state.durableSeq);
    --state.inFlight;
  }
  for (const DedupEntry& entry : done.dedups) pendingDedup_.erase(dedupKey(entry.from, entry.cid));
  return done;
}

void Sequencer::rollBack(const std::string& channel, std::vector<std::string>& shownLost) {
  ChannelState* state = findChannel(channel);  // recent again (or already rolled back)
  if (state == nullptr) return;
  const bool lost = state->fast && state->shownSeq > (state->durable ? state->durableSeq : 0);
  if (lost) shownLost.push_back(channel);
  if (!state->durable && !lost) {
    channels_.erase(channel);  // reloaded from the store (or given its derived epoch) on next use
    return;
  }
  // (A fast channel never durable whose messages were shown stays, at seq 0: its subscribers are
  // told its new epoch by a sync, which needs its position in memory.)
  state->lastSeq = state->shownSeq = state->durableSeq;
  state->touched = false;
  state->inFlight = 0;
}

std::vector<std::string> Sequencer::commitFailed() {
  std::vector<std::string> shownLost;
  std::unordered_set<std::string> done;  // a channel of several batches rolls back once
  const auto once = [&](const std::string& name) {
    if (done.insert(name).second) rollBack(name, shownLost);
  };
  for (const WriteSet& batch : inFlight_) {
    for (const MetaEntry& entry : batch.metas) once(entry.channel);
  }
  for (const std::string& name : touched_) once(name);
  inFlight_.clear();
  batch_ = WriteSet{};
  touched_.clear();
  pendingDedup_.clear();
  return shownLost;
}

void Sequencer::rebaseEpochs() {
  for (auto* map : {&channels_, &idle_}) {
    for (auto& [name, state] : *map) {
      if (state.generational) state.epoch = epochFor(name);
    }
  }
}

std::optional<std::vector<ChannelMeta>> Sequencer::positions(const std::vector<std::string>& channels,
                                                             std::string& error) {
  std::vector<ChannelMeta> out(channels.size());
  std::vector<std::string> missing;
  std::vector<size_t> missingAt;
  for (size_t i = 0; i < channels.size(); ++i) {
    if (ChannelState* state = findChannel(channels[i]); state != nullptr) {
      // In flight only (not durable yet): where it stands for others is still seq 0 (unless fast).
      out[i] = ChannelMeta{state->epoch, told(*state)};
    } else {
      missing.push_back(channels[i]);
      missingAt.push_back(i);
    }
  }
  if (missing.empty()) return out;
  std::vector<std::optional<ChannelMeta>> loaded;
  try {
    loaded = store_.loadMetas(missing);
  } catch (const HistoryStoreError& e) {
    error = e.what();
    return std::nullopt;
  }
  for (size_t k = 0; k < missing.size(); ++k) {
    if (!loaded[k]) {  // never written: nothing kept
      out[missingAt[k]] = ChannelMeta{epochFor(missing[k]), 0};
      continue;
    }
    out[missingAt[k]] = ChannelMeta{toldEpoch(missing[k], loaded[k]->epoch), loaded[k]->lastSeq};  // not kept
  }
  return out;
}

const Sequencer::ChannelState* Sequencer::peekChannel(std::string_view channel) const {
  std::string name(channel);
  auto it = channels_.find(name);
  if (it != channels_.end()) return &it->second;
  it = idle_.find(name);
  return it == idle_.end() ? nullptr : &it->second;
}

std::optional<ChannelMeta> Sequencer::channelState(std::string_view channel) const {
  const ChannelState* state = peekChannel(channel);
  if (state == nullptr) return std::nullopt;
  return ChannelMeta{state->epoch, told(*state)};
}

std::optional<ChannelMeta> Sequencer::durableState(std::string_view channel) const {
  const ChannelState* state = peekChannel(channel);
  if (state == nullptr) return std::nullopt;
  return ChannelMeta{state->epoch, state->durable ? state->durableSeq : 0};
}

uint64_t Sequencer::toldEpoch(std::string_view channel, uint64_t stored) const {
  return isGenerational(channel) ? epochFor(channel) : stored;
}

}  // namespace webim::hub
