// Step (c), the replies: after the batch's group commit, every request is answered in arrival
// order. Replies only answer; what goes on the publish socket is publishBatch's (Publisher).
#include <algorithm>

#include "broadcast/delivery.h"
#include "broadcast/durable_page.h"
#include "broadcast/hub.h"
#include "common/failpoint.h"
#include "common/topics.h"

namespace webim::hub {

namespace {

constexpr size_t kMaxAppPageBytes = 64 * 1024;  // app-ingress hist pages (`more` says there is more)
constexpr size_t kMaxPageBytes = 1 << 20;       // docs/protocol.md: a history page is at most 1 MiB

}  // namespace

void Hub::reply(Request& r, bool committed) {
  // What needed the batch's commit fails with it: a publish's ack; an attach (the epochs of inboxes
  // it created were not stored: the frontend attaches again); a kick (its revocation was not
  // stored: the app retries; nobody is closed meanwhile).
  const bool needsCommit = std::holds_alternative<AttachRequest>(r.request) ||
                           std::holds_alternative<KickRequest>(r.request) ||
                           std::holds_alternative<ReadCursorRequest>(r.request) ||
                           (std::holds_alternative<PublishRequest>(r.request) && r.outcome.pending);
  if (needsCommit && !committed) return replyError(r, "unavailable", "store write failed");
  std::visit([&](const auto& request) { answer(r, request); }, r.request);
}

void Hub::replyError(Request& r, const std::string& code, const std::string& message) {
  if (code == "bad_request") ++stats_.badRequests;
  if (r.form != ReplyForm::Frontend) return replyApp(r, encodeAppError(code, message));
  wire::HubReply reply;
  reply.mutable_error()->set_code(code);
  reply.mutable_error()->set_message(message);
  replyFrontend(r, reply);
}

void Hub::replyApp(Request& r, const std::string& json) {
  if (r.form == ReplyForm::App) return send(app_, r.envelope, json);
  wire::HubReply reply;
  reply.set_app_json(json);
  replyFrontend(r, reply);
}

void Hub::replyFrontend(Request& r, wire::HubReply& reply) {
  reply.set_req_id(r.reqId);
  send(frontend_, r.envelope, reply.SerializeAsString());
}

void Hub::answer(Request& r, const RequestError& error) { replyError(r, error.code, error.message); }

void Hub::answer(Request& r, const PublishRequest& /*publish*/) {
  if (r.outcome.status == PublishStatus::Duplicate) ++stats_.duplicates;
  if (r.form != ReplyForm::Frontend) return replyApp(r, encodePublishOk(r.outcome.epoch, r.outcome.seq));
  wire::HubReply reply;
  reply.mutable_publish_ack()->set_epoch(r.outcome.epoch);
  reply.mutable_publish_ack()->set_seq(r.outcome.seq);
  if (r.ownRead) reply.mutable_publish_ack()->set_read(true);
  replyFrontend(r, reply);
}

// One page of the channel; a channel never written reports the epoch its first message will carry.
// The store may already show a batch still waiting for its sync: the page ends at the durable seq
// (at the written one on a fast channel, whose messages were published once written), and carries
// the epoch the channel is told at (a fast channel's may be newer than its stored meta's).
HistoryPage Hub::readHistory(const HistoryRequest& h, size_t maxBytes) {
  HistoryQuery query{h.before, h.after, h.limit, maxBytes};
  const std::optional<ChannelMeta> told = sequencer_.channelState(h.channel);  // nullopt: all durable
  HistoryPage page = store_.readPage(h.channel, told ? durableQuery(query, *told) : query);
  if (told) clampPage(page, *told);
  if (page.epoch == 0) {
    page.epoch = sequencer_.epochFor(h.channel);
  } else {
    page.epoch = told ? told->epoch : sequencer_.toldEpoch(h.channel, page.epoch);
  }
  return page;
}

void Hub::answer(Request& r, const HistoryRequest& history) {
  if (r.form != ReplyForm::Frontend) {
    try {
      replyApp(r, encodeHistoryOk(readHistory(history, kMaxAppPageBytes)));
    } catch (const HistoryStoreError& e) {
      replyApp(r, encodeAppError("unavailable", e.what()));
    }
    return;
  }
  wire::HubReply reply;
  try {
    // A frontend's read fails as while the store recovers (integration/read_failures).
    if (failpoint("hub.history_unavailable")) throw HistoryStoreError("failpoint hub.history_unavailable");
    HistoryPage page = readHistory(history, kMaxPageBytes);
    wire::HistoryPage* out = reply.mutable_history();
    out->set_epoch(page.epoch);
    out->set_last_seq(page.lastSeq);
    out->set_more(page.more);
    for (StoredMessage& m : page.msgs) toDelivery(std::move(m), *out->add_msgs());
  } catch (const HistoryStoreError& e) {
    reply.clear_history();
    reply.mutable_error()->set_code("unavailable");
    reply.mutable_error()->set_message(e.what());
  }
  replyFrontend(r, reply);
}

void Hub::answer(Request& r, const StatsRequest& /*stats*/) { replyApp(r, encodeStatsOk(snapshotStats())); }

// The kick itself goes out after the replies (publishBatch).
void Hub::answer(Request& r, const KickRequest& /*kick*/) {
  if (r.form != ReplyForm::Frontend) return replyApp(r, encodeAppOk());
  wire::HubReply reply;
  replyFrontend(r, reply);
}

void Hub::answer(Request& r, const HelloRequest& /*hello*/) {
  if (r.reqId == 0) return;
  wire::HubReply reply;
  wire::HubInfo* info = reply.mutable_hub_info();
  info->set_boot_id(bootId_);
  info->set_max_data_bytes(static_cast<uint64_t>(config_.maxDataBytes));
  info->set_max_request_bytes(maxRequestBytes());
  replyFrontend(r, reply);
}

// The positions a frontend's joining inbox subscribers start from.
void Hub::answer(Request& r, const AttachRequest& attach) {
  wire::HubReply reply;
  wire::AttachAck* ack = reply.mutable_attached();
  for (size_t i = 0; i < attach.users.size(); ++i) {
    const std::string& user = attach.users[i];
    // Written in this batch (or loaded): the state in memory; else the position read when staged.
    std::optional<ChannelMeta> meta = sequencer_.channelState(std::string(kInboxPrefix) + user);
    if (!meta && i < r.positions.size()) meta = r.positions[i];
    wire::InboxState* state = ack->add_inboxes();
    state->set_user(user);
    state->set_epoch(meta ? meta->epoch : 0);
    state->set_last_seq(meta ? meta->lastSeq : 0);
  }
  replyFrontend(r, reply);
}

void Hub::answer(Request& /*r*/, const DetachRequest& /*detach*/) {}  // no reply (req_id 0)

void Hub::answer(Request& r, const RevocationsRequest& revocations) {
  wire::HubReply reply;
  try {
    wire::RevocationList* list = reply.mutable_revocations();
    for (Revocation& rev : store_.loadRevocations(std::max(revocations.sinceMs, nowMs() - config_.revocationTtl * 1000))) {
      wire::Revocation* out = list->add_revocations();
      out->set_user(std::move(rev.user));
      out->set_not_before_ms(rev.notBeforeMs);
    }
  } catch (const HistoryStoreError& e) {
    reply.clear_revocations();
    reply.mutable_error()->set_code("unavailable");
    reply.mutable_error()->set_message(e.what());
  }
  replyFrontend(r, reply);
}

HubStats Hub::snapshotStats() {
  const auto now = std::chrono::steady_clock::now();
  expireFrontends();
  HubStats s = stats_;
  s.channels = storedChannelsAtStart_ + sequencer_.createdChannels();
  s.frontends = frontends_.size();
  s.inboxUsers = inboxes_.users();
  s.watchedUsers = watchers_.users();
  s.channelsInMemory = sequencer_.channelsInMemory();
  s.uptimeS = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(now - started_).count());
  s.subscribedTopics = subscribers_.size();
  if (zap_) {
    s.authAdmitted = zap_->admitted();
    s.authRefused = zap_->refused();
  }
  return s;
}

}  // namespace webim::hub
