// The watchlist, the frontend's I/O side (docs/architecture.md "Watchlist"): WatchTable keeps who
// watches whom; this asks the hub owning each watched user's inbox to tell this frontend of their
// changes (WatchUsers: the first watcher here; the last one gone: unwatch), hands each connection
// its users' statuses after `auth` and every change after that as
//   {"op":"watch","user":"7","online":true}   {"op":"watch","user":"7","online":false,"last_seen":ms}
// and watches everything again when a hub restarts (a new boot id), like the inbox re-attach.
#include <spdlog/spdlog.h>

#include "common/json_writer.h"
#include "common/presence_status.h"
#include "frontend/connection.h"
#include "frontend/frontend.h"

namespace webim {

namespace {

constexpr size_t kWatchChunk = 4096;  // users per WatchUsers request
constexpr int kWatchAttempts = 5;     // a watch not acknowledged is sent again, with a pause, this often
constexpr uint64_t kWatchRetryMs = 1000;

WatchTable::Status statusOf(const wire::OnlineState& state) {
  return {state.online() ? WatchTable::State::Online : WatchTable::State::Offline, state.last_seen_ms()};
}

}  // namespace

void Frontend::onSubDelivery(const wire::Delivery& delivery) {
  if (delivery.has_watch()) {
    onWatchEvent(delivery.watch());
  } else {
    stream_.onDelivery(delivery);
  }
}

void Frontend::setWatches(int fd, std::vector<std::string> users) {
  WatchTable::Change change = watches_.set(fd, users);
  for (uint32_t index : change.known) {
    tellWatchers(watches_.user(index), watches_.status(index), {fd});
  }
  watchUsers(change.watch, false);
  watchUsers(change.unwatch, true);
}

void Frontend::clearWatches(int fd) {
  if (!watches_.watching(fd)) return;
  watchUsers(watches_.clear(fd), true);
}

// Grouped by the shard of each user's inbox; a watch in chunks, each acknowledged with statuses.
void Frontend::watchUsers(const std::vector<std::string>& users, bool unwatch) {
  if (users.empty() || stopping_) return;
  std::vector<std::vector<std::string>> byShard(hubs_.size());
  for (const std::string& user : users) {
    std::vector<std::string>& list = byShard[shardOfUser(user)];
    list.push_back(user);
    if (unwatch || list.size() < kWatchChunk) continue;
    watchShard(shardOfUser(user), std::move(list));
    list.clear();
  }
  for (size_t shard = 0; shard < byShard.size(); ++shard) {
    if (byShard[shard].empty()) continue;
    if (!unwatch) {
      watchShard(shard, std::move(byShard[shard]));
      continue;
    }
    wire::FrontendRequest request;
    wire::WatchUsers* body = request.mutable_watch();
    body->set_frontend_id(config_.id);
    body->set_boot_id(bootId_);
    body->set_unwatch(true);
    for (std::string& user : byShard[shard]) body->add_users(std::move(user));
    hubs_[shard]->post(request);
  }
}

Task Frontend::watchShard(size_t shard, std::vector<std::string> users) {
  for (int attempt = 0; attempt < kWatchAttempts; ++attempt) {
    // A retry sends only the users still watched here: one unwatched meanwhile was unwatched at the
    // hub after the first attempt (same socket, in order), and watching it again would leave the
    // hub routing it here until this frontend is forgotten.
    if (attempt > 0) users = watches_.stillWatched(std::move(users));
    if (users.empty()) co_return;
    wire::FrontendRequest request;
    wire::WatchUsers* body = request.mutable_watch();
    body->set_frontend_id(config_.id);
    body->set_boot_id(bootId_);
    for (const std::string& user : users) body->add_users(user);
    HubCall call(*hubs_[shard], fills_, request, nowMs() + config_.hubTimeoutMs);
    HubResult result = co_await call;
    if (result.status == WaitStatus::Cancelled) co_return;
    if (result.status == WaitStatus::Done && !result.reply.has_error()) {
      for (const wire::OnlineState& state : result.reply.watched().users()) {
        if (state.settling()) continue;  // the hub restarted lately: its events will tell
        WatchTable::Status status = statusOf(state);
        tellWatchers(state.user(), status, watches_.update(state.user(), status));
      }
      co_return;
    }
    spdlog::warn("watching {} users at hub {} failed: retrying", users.size(), hubs_[shard]->ingress());
    Sleep pause(fills_, wheel_, nowMs() + kWatchRetryMs);
    if (co_await pause == WaitStatus::Cancelled) co_return;
  }
}

// A hub restarted: it forgot who watches whom here.
void Frontend::rewatch(size_t shard) {
  std::vector<std::string> users;
  watches_.forEachUser([&](const std::string& user) {
    if (shardOfUser(user) == shard) users.push_back(user);
  });
  watchUsers(users, false);
}

void Frontend::onWatchEvent(const wire::WatchEvent& event) {
  WatchTable::Status status{event.online() ? WatchTable::State::Online : WatchTable::State::Offline,
                            event.last_seen_ms()};
  tellWatchers(event.user(), status, watches_.update(event.user(), status));
}

void Frontend::tellWatchers(const std::string& user, const WatchTable::Status& status, const std::vector<int32_t>& fds) {
  if (fds.empty()) return;
  std::string out;
  JsonWriter writer(out);
  writer.beginObject().key("op").string("watch").key("user").string(user);
  writePresenceStatus(writer, status.state == WatchTable::State::Online, false, status.lastSeenMs);
  writer.endObject();
  for (int32_t fd : fds) {
    if (Connection* connection = sockets_.find(fd)) connection->sendText(out);
  }
}

}  // namespace webim
