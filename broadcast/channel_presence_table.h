// Who is in each presence channel of this hub (docs/architecture.md "Channel presence"). Pure: the
// hub feeds it the frontends' reports (ChannelPresenceUpdate) and the frontends it forgets, asks it
// for counts and pages, and publishes the join/leave events takeEvents() returns.
//
//  - A member is a user with at least one connection subscribed to the channel on some frontend.
//    Each member keeps the frontends that report it; the frontends report their connection counts
//    (absolute, so a report sent twice changes nothing) and user joins/leaves (set operations).
//  - Grace: a member no frontend holds any more stays a member for `graceMs`, then leaves; a join
//    within the grace cancels the leave, so a reconnect is neither a leave nor a join.
//  - Events are coalesced per channel: at most one per `eventIntervalMs`, carrying every change
//    since the previous one (a user who joined and left in between is in neither list).
//  - Cap: a channel lists at most `maxMembers` members. A user who joins a full channel is not
//    listed and gets no events; it is counted per reporting frontend ("unlisted"), so `users` stays
//    exact except for an unlisted user on two frontends at once (counted twice). Unlisted users are
//    not promoted when members leave.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace webim::hub {

class ChannelPresenceTable {
 public:
  struct Options {
    size_t maxMembers = 1000;
    uint64_t graceMs = 5000;
    uint64_t eventIntervalMs = 200;
  };
  struct Event {
    std::string channel;
    std::vector<std::string> join;
    std::vector<std::string> leave;
  };
  struct Stats {
    uint64_t connections = 0;
    uint64_t users = 0;
  };
  struct Page {
    std::vector<std::string> users;
    bool more = false;
  };

  explicit ChannelPresenceTable(Options options) : options_(options) {}

  // One channel of a frontend's report: its live connections there now, and its user changes.
  void update(std::string_view frontendId, const std::string& channel, uint32_t connections,
              std::span<const std::string> join, std::span<const std::string> leave, uint64_t nowMs);
  // The frontend is gone (restarted, silent, replaced): everything it reported is withdrawn; its
  // users leave after the grace unless another frontend holds them by then.
  void forgetFrontend(std::string_view frontendId, uint64_t nowMs);
  // Ends the graces due and returns the channels' events due now.
  std::vector<Event> takeEvents(uint64_t nowMs);
  // When takeEvents() has something to do next (UINT64_MAX: nothing waits).
  uint64_t nextDeadlineMs() const { return deadlines_.empty() ? UINT64_MAX : deadlines_.begin()->first; }

  Stats stats(std::string_view channel) const;
  // Members after `after` (byte order), at most `limit`; members in their grace included.
  Page list(std::string_view channel, std::string_view after, size_t limit) const;

  size_t channels() const noexcept { return channels_.size(); }
  size_t members() const noexcept;

 private:
  using FrontendIndex = uint16_t;
  // 24 bytes: the frontends reporting it (the first three inline, more in `extra`: rare), its
  // grace's end, and whether its join waits for the channel's next event.
  struct Member {
    uint64_t leaveAtMs = 0;  // in its grace until then (0: not leaving)
    std::array<FrontendIndex, 3> inlineFrontends{};
    uint8_t count = 0;       // frontends reporting it now (0: in its grace)
    bool pendingJoin = false;
    std::unique_ptr<std::vector<FrontendIndex>> extra;  // the 4th frontend onwards

    bool has(FrontendIndex frontend) const;
    void add(FrontendIndex frontend);
    void remove(FrontendIndex frontend);
  };
  struct Reporter {
    FrontendIndex frontend = 0;
    uint32_t connections = 0;
    uint32_t unlisted = 0;  // users joined from it while the channel was full
  };
  struct Channel {
    std::map<std::string, Member, std::less<>> members;
    std::vector<Reporter> reporters;
    uint64_t connections = 0;
    uint64_t unlisted = 0;
    // Changes not yet published: joins (valid while the member's pendingJoin is set) and leaves.
    std::vector<std::string> pendingJoins;
    std::vector<std::string> pendingLeaves;
    uint64_t eventAtMs = 0;                            // the next event is scheduled (0: none)
    uint64_t lastEventMs = 0;
  };
  // A grace's end (user set) or a channel's event (user empty), checked when due.
  struct Deadline {
    std::string channel;
    std::string user;
  };

  FrontendIndex intern(std::string_view frontendId);
  Reporter& reporter(Channel& channel, FrontendIndex frontend);
  void join(Channel& channel, const std::string& name, FrontendIndex frontend, const std::string& user,
            uint64_t nowMs);
  void leave(Channel& channel, const std::string& name, FrontendIndex frontend, const std::string& user,
             uint64_t nowMs);
  void dropFrom(Channel& channel, const std::string& name, Member& member, const std::string& user,
                FrontendIndex frontend, uint64_t nowMs);
  void changed(Channel& channel, const std::string& name, const std::string& user, Member* joined, uint64_t nowMs);
  void leaveNow(Channel& channel, const std::string& name, const std::string& user, uint64_t nowMs);
  Event takePending(Channel& channel, const std::string& name);
  void endGrace(const Deadline& due, uint64_t atMs, uint64_t nowMs);
  void eraseIfEmpty(const std::string& name);

  Options options_;
  std::unordered_map<std::string, Channel> channels_;
  std::unordered_map<std::string, FrontendIndex> frontendIds_;  // interned, never freed (a handful)
  std::multimap<uint64_t, Deadline> deadlines_;
};

}  // namespace webim::hub
