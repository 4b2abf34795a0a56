// Step (b) per request: what a decoded request does to the hub's state before the batch's group
// commit (sequencing a publish, staging a kick's revocation, admitting a frontend, routing its
// inboxes). A request refused here becomes a RequestError; nothing is answered yet.
#include <spdlog/spdlog.h>

#include "broadcast/hub.h"
#include "common/epoch.h"
#include "common/topics.h"

namespace webim::hub {

namespace {

constexpr auto kConflictLogInterval = std::chrono::seconds(10);

}  // namespace

// A refusal replaces r.request with a RequestError, after which the alternative it held is gone.
void Hub::stage(Request& r) {
  if (auto* publish = std::get_if<PublishRequest>(&r.request)) {
    if (isEditOrDelete(r.request)) return stageEdit(r, *publish);
    stagePublish(r, *publish);
  } else if (const auto* kick = std::get_if<KickRequest>(&r.request)) {
    // Stored (a revocation in this batch's commit) before it is answered and published: the
    // user's tokens and sids issued until now are refused by every frontend from then on.
    r.kickNotBeforeMs = nowMs();
    sequencer_.stage(Revocation{kick->user, r.kickNotBeforeMs});
  } else if (const auto* hello = std::get_if<HelloRequest>(&r.request)) {
    if (admitFrontend(r, hello->frontendId, hello->boot)) settling_.seen(hello->frontendId, sinceStartMs());
  } else if (const auto* attach = std::get_if<AttachRequest>(&r.request)) {
    stageAttach(r, *attach);
  } else if (const auto* detach = std::get_if<DetachRequest>(&r.request)) {
    stageDetach(*detach);
  } else if (const auto* watch = std::get_if<WatchRequest>(&r.request)) {
    stageWatch(r, *watch);
  } else if (const auto* erase = std::get_if<EraseUserRequest>(&r.request)) {
    stageErase(r, *erase);
  } else if (auto* touch = std::get_if<ConversationTouchRequest>(&r.request)) {
    sequencer_.stage(std::move(touch->touch));  // the conversation index (hub_conversations.cpp)
  }
}

void Hub::stagePublish(Request& r, PublishRequest& publish) {
  const bool dm = publish.input.channel.starts_with("dm:") && publish.input.editOf == 0 && publish.input.deleteOf == 0;
  std::string channel = dm ? publish.input.channel : std::string();
  std::string from = dm ? publish.input.from : std::string();
  const int64_t now = nowMs();
  std::optional<ConversationTouch> notice = noticeTouch(publish.input, now);  // a peer hub's dm notice
  r.outcome = sequencer_.sequence(std::move(publish.input), now);
  // A new dm message notifies both participants' inboxes (not a retry: Duplicate).
  if (dm && r.outcome.status == PublishStatus::Sequenced) stageDmNotices(channel, r.outcome.seq, from, now);
  if (notice && r.outcome.status == PublishStatus::Sequenced) stageNotice(std::move(*notice));
  if (r.outcome.status == PublishStatus::BadRequest) {
    r.request = RequestError{"bad_request", std::move(r.outcome.message)};
  } else if (r.outcome.status == PublishStatus::Unavailable) {
    r.request = RequestError{"unavailable", std::move(r.outcome.message)};
  }
}

void Hub::stageAttach(Request& r, const AttachRequest& attach) {
  ++metrics_.attachRequests;
  metrics_.attachedUsers += attach.users.size();
  if (!admitFrontend(r, attach.frontendId, attach.boot)) return;
  std::vector<std::string> inboxes;
  inboxes.reserve(attach.users.size());
  for (const std::string& user : attach.users) inboxes.push_back(std::string(kInboxPrefix) + user);
  // One batched read; an inbox never written is at its derived epoch, seq 0, and nothing is written for it.
  std::string error;
  std::optional<std::vector<ChannelMeta>> positions = sequencer_.positions(inboxes, error);
  if (!positions) {
    r.request = RequestError{"unavailable", std::move(error)};
    return;
  }
  r.positions = std::move(*positions);
  for (const std::string& user : attach.users) {
    const bool wasHeld = holds(user);
    if (!inboxes_.attach(attach.frontendId, user)) {
      spdlog::warn("frontend {}: attach refused, {} frontends already hold inboxes (the most routed)",
                   attach.frontendId, InboxRouter::kMaxFrontends);
      r.request = RequestError{"unavailable", "too many frontends hold inboxes"};
      return;
    }
    if (!wasHeld) userCameOnline(user);
  }
  settling_.seen(attach.frontendId, sinceStartMs());
  if (attach.synced) settling_.synced(attach.frontendId);
}

// Only the admitted process of an id detaches its users (not a second one using the same id). A
// detach is not a heartbeat: it leaves the frontend's admission as it is.
void Hub::stageDetach(const DetachRequest& detach) {
  if (!frontends_.owns(detach.frontendId, detach.boot)) return;
  for (const std::string& user : detach.users) inboxes_.detach(detach.frontendId, user);
  stageLastSeen();
}

// Hello, attach and detach name the frontend and its process (boot id): one process per id
// (FrontendRegistry). False, with the request failed as `conflict`, for a second live process.
bool Hub::admitFrontend(Request& r, const std::string& id, uint64_t boot) {
  const std::string routingId = r.envelope.empty() ? std::string() : r.envelope.front().to_string();
  const auto now = std::chrono::steady_clock::now();
  const FrontendRegistry::Admission admission =
      frontends_.admit(id, boot, routingId, now, [&](std::string_view old) { return probeFrontend(old, id, boot); });
  switch (admission) {
    case FrontendRegistry::Admission::New:
      spdlog::info("frontend {} connected (process {:016x})", id, boot);
      return true;
    case FrontendRegistry::Admission::Known:
      return true;
    case FrontendRegistry::Admission::Replaced:
      // A restart of that instance: the new process attaches what it holds itself.
      spdlog::info("frontend {} restarted (process {:016x}): forgetting the inboxes of its previous process", id, boot);
      inboxes_.forgetFrontend(id);
      watchers_.forgetFrontend(id);
      presence_.forgetFrontend(id);
      return true;
    case FrontendRegistry::Admission::Conflict:
      break;
  }
  ++metrics_.idConflicts;
  if (now >= nextConflictLog_) {
    spdlog::error("two running frontends use the id {}: refusing process {:016x} (process {:016x} keeps the id and "
                  "its inboxes); give each frontend its own --id",
                  id, boot, frontends_.find(id)->boot);
    nextConflictLog_ = now + kConflictLogInterval;
  }
  // Last: the assignment replaces the request `id` may point into.
  r.request = RequestError{"conflict", "frontend id " + id + " is in use by another running process; give each "
                                       "frontend its own --id"};
  return false;
}

// Whether the connection `routingId` (the process that holds frontend `id`) is still open: a notice
// is sent to it (that process logs it). A connection that is gone refuses it (ZMQ_ROUTER_MANDATORY).
bool Hub::probeFrontend(std::string_view routingId, const std::string& id, uint64_t newBoot) {
  wire::HubReply notice;
  notice.set_req_id(0);
  notice.mutable_error()->set_code("conflict");
  notice.mutable_error()->set_message("another process (" + formatEpoch(newBoot) + ") started with this frontend's id " +
                                      id + "; the hub refuses it and keeps this one; give each frontend its own --id");
  const std::string body = notice.SerializeAsString();
  try {
    if (!frontend_.send(zmq::buffer(routingId), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      return true;  // its pipe is full: connected
    }
    frontend_.send(zmq::buffer(body), zmq::send_flags::dontwait);
    return true;
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH) return false;
    spdlog::warn("probing frontend {}: {}", id, e.what());
    return true;  // unknown: keep the one we have
  }
}

void Hub::expireFrontends() {
  for (const std::string& id : frontends_.expire(std::chrono::steady_clock::now())) {
    spdlog::info("frontend {} gone (no hello for {} s): forgetting its inboxes", id, config_.frontendTimeout);
    inboxes_.forgetFrontend(id);
    watchers_.forgetFrontend(id);
    presence_.forgetFrontend(id);
  }
}

}  // namespace webim::hub
