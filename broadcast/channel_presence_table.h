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
#include <deque>
#include <optional>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
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

  // One channel of a report from process `boot` of frontend `frontendId`: its live connections there
  // now, and its user changes. A new boot for a known id withdraws the old process's (forgetFrontend).
  // False when 65,535 processes are known or being forgotten at once (the report is dropped).
  bool update(std::string_view frontendId, uint64_t boot, const std::string& channel, uint32_t connections,
              std::span<const std::string> join, std::span<const std::string> leave, uint64_t nowMs);
  // The frontend's process is gone (restarted, silent, replaced): everything it reported is
  // withdrawn, in slices (forgetStep); its users leave after the grace unless another frontend holds
  // them by then. Its next process reports afresh.
  void forgetFrontend(std::string_view frontendId);
  bool forgetting() const noexcept { return !forgetting_.empty(); }
  // Withdraws forgotten processes' reports, visiting about `budget` members (a channel at least).
  void forgetStep(size_t budget, uint64_t nowMs);
  // Ends the graces due and returns the channels' events due now, handling at most `maxDeadlines`
  // of them (the rest on the next call: nextDeadlineMs() is then already due).
  std::vector<Event> takeEvents(uint64_t nowMs, size_t maxDeadlines = SIZE_MAX);
  // When takeEvents() has something to do next (UINT64_MAX: nothing waits).
  // (0 while forgetting: forgetStep has work now.)
  uint64_t nextDeadlineMs() const {
    if (forgetting()) return 0;
    return deadlines_.empty() ? UINT64_MAX : deadlines_.begin()->first;
  }

  Stats stats(std::string_view channel) const;
  // Members after `after` (byte order), at most `limit`; members in their grace included.
  Page list(std::string_view channel, std::string_view after, size_t limit) const;

  size_t channels() const noexcept { return channels_.size(); }
  size_t members() const noexcept;

 private:
  using FrontendIndex = uint16_t;
  // What withdrawing from one channel costs beside its members, in members (forgetStep's budget).
  static constexpr size_t kChannelVisit = 8;
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

  std::optional<FrontendIndex> intern(std::string_view frontendId, uint64_t boot);
  Reporter& reporter(Channel& channel, const std::string& name, FrontendIndex frontend);
  void withdraw(const std::string& name, FrontendIndex frontend, uint64_t nowMs);
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
  // Each frontend process reporting gets an index (reused once its process is forgotten) and the
  // channels it reports in, so forgetting it visits those channels only.
  struct Process {
    uint64_t boot = 0;
    FrontendIndex index = 0;
  };
  std::unordered_map<std::string, Process> processes_;  // frontend id -> its current process
  std::vector<std::unordered_set<std::string>> channelsOf_;  // by index
  std::vector<FrontendIndex> freeIndices_;
  struct Forgetting {
    FrontendIndex index = 0;
    std::unordered_set<std::string> channels;  // still to withdraw from (moved, never copied: O(1))
  };
  std::deque<Forgetting> forgetting_;
  std::multimap<uint64_t, Deadline> deadlines_;
};

}  // namespace webim::hub
