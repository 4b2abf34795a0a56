#include "frontend/read_sub_cursors.h"

#include <algorithm>
#include <unordered_set>

#include "common/channel_rules.h"
#include "frontend/connection.h"
#include "frontend/frontend.h"
#include "frontend/shard_asks.h"

namespace webim {

CursorWait::CursorWait(std::shared_ptr<SubCursors> cursors, PendingOp*& ownerList, TimerWheel& wheel, uint64_t deadlineMs)
    : cursors_(std::move(cursors)) {
  if (!cursors_ || cursors_->done) return;
  cursors_->waiters.push_back(this);
  linked_ = true;
  linkToOwner(ownerList);
  armDeadline(wheel, deadlineMs);
}

void CursorWait::detach() noexcept {
  auto& w = cursors_->waiters;
  w.erase(std::remove(w.begin(), w.end(), this), w.end());
}

void finishSubCursors(SubCursors& cursors) {
  cursors.done = true;
  while (!cursors.waiters.empty()) cursors.waiters.back()->finish();  // each removes itself
}

std::shared_ptr<SubCursors> SubCursorTable::start(uint32_t serial, int64_t id, size_t entries, uint64_t nowMs) {
  if (nowMs >= nextSweepMs_) {  // not per request: a reconnect storm holds many entries at once
    nextSweepMs_ = nowMs + kMaxAgeMs / 4;
    for (auto it = table_.begin(); it != table_.end();) {
      it = nowMs - it->second->createdMs > kMaxAgeMs ? table_.erase(it) : std::next(it);
    }
  }
  auto [it, added] = table_.try_emplace({serial, id});
  if (!added) return nullptr;
  it->second = std::make_shared<SubCursors>();
  it->second->unanswered = entries;
  it->second->createdMs = nowMs;
  return it->second;
}

std::shared_ptr<SubCursors> SubCursorTable::find(uint32_t serial, int64_t id) const {
  auto it = table_.find({serial, id});
  return it == table_.end() ? nullptr : it->second;
}

void SubCursorTable::answered(uint32_t serial, int64_t id) {
  auto it = table_.find({serial, id});
  if (it != table_.end() && --it->second->unanswered == 0) table_.erase(it);
}

// At the start of a WebSocket sub: the cursors of its channels that the user may subscribe.
void Connection::startSubCursors(const ClientRequest& request) {
  if (phase_ != Phase::WebSocket || !frontend().config().subReadCursors) return;
  std::vector<std::string> channels;
  std::unordered_set<std::string_view> seen;
  auto add = [&](std::string_view ch) {
    if (isValidChannelName(ch) && session_.canSubscribe(ch) && seen.insert(ch).second) channels.emplace_back(ch);
  };
  if (request.subs.empty()) {
    add(request.ch);
  } else {
    for (const SubEntry& entry : request.subs) add(entry.ch);
  }
  if (channels.empty()) return;
  const size_t entries = request.subs.empty() ? 1 : request.subs.size();
  std::shared_ptr<SubCursors> cursors = frontend().subCursors().start(session_.serial, request.id, entries, frontend().nowMs());
  if (cursors) fetchSubCursors(std::move(cursors), std::move(channels));
}

// One UnreadRequest per shard, all at once (shard_asks.h), within one hub_timeout_ms. What did not
// come is left out of the replies.
Task Connection::fetchSubCursors(std::shared_ptr<SubCursors> cursors, std::vector<std::string> channels) {
  ShardAsks asks(channels.size(), [&](size_t i) -> HubLink& { return frontend().hubFor(channels[i]); });
  for (size_t k = 0; k < asks.size(); ++k) {
    wire::UnreadRequest* body = asks.request(k).mutable_cursors();  // no counts: the hub skips them
    body->set_user(session_.user);
    for (size_t i : asks.items(k)) body->add_channels(channels[i]);
  }
  asks.send(pending_, frontend().nowMs() + frontend().config().hubTimeoutMs);
  for (size_t k = 0; k < asks.size(); ++k) {
    HubCall& call = asks.call(k);  // named: g++ 12 copies an unnamed awaitable
    HubResult result = co_await call;
    if (result.status == WaitStatus::Cancelled) break;
    if (result.status != WaitStatus::Done || result.reply.has_error()) continue;
    const std::vector<size_t>& names = asks.items(k);
    const wire::UnreadCounts& got = result.reply.unread();
    if (got.reads_size() != static_cast<int>(names.size()) || got.peer_reads_size() != got.reads_size()) continue;
    for (int i = 0; i < got.reads_size(); ++i) {
      cursors->values[channels[names[static_cast<size_t>(i)]]] = {got.reads(i), got.peer_reads(i)};
    }
  }
  finishSubCursors(*cursors);
}

std::shared_ptr<SubCursors> Connection::subCursorsFor(int64_t id) {
  return frontend().subCursors().find(session_.serial, id);
}

// "read" (and "peer_read" on a dm:) of a sub reply, when known; the channel counts as answered.
void Connection::writeSubCursors(JsonWriter& writer, int64_t id, const std::string& channel) {
  std::shared_ptr<SubCursors> cursors = subCursorsFor(id);
  if (!cursors) return;
  auto it = cursors->values.find(channel);
  if (it == cursors->values.end()) return;
  writer.key("read").uinteger(it->second.first);
  if (channelKind(channel) == ChannelKind::Dm) writer.key("peer_read").uinteger(it->second.second);
}

void Connection::subAnswered(int64_t id) { frontend().subCursors().answered(session_.serial, id); }

}  // namespace webim
