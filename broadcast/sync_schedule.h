// Which channels still owe their frontends a sync after their last write. That sync is what
// reveals a dropped tail to the frontends (docs/architecture.md "Gap filling"), so it is not
// dropped itself: it goes out whole to every subscribed frontend or not at all, and is tried again
// next round while a frontend's pipe is full, for a bounded number of rounds (a frontend whose
// pipe stays full does not hold it forever). It goes out in two rounds: ZeroMQ skips a pipe that
// overflowed moments ago (in the burst the sync follows) as if the frontend were not subscribed,
// even for a send that must not drop; one round later the frontend has read from it.
// A frontend that subscribes a channel written lately (it reconnected, and a message went out
// before its subscription arrived) gets the syncs again: the sync answering a subscribe may be
// dropped.
// Pure bookkeeping: the caller sends.
#pragma once

#include <iterator>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace webim::hub {

class SyncSchedule {
 public:
  static constexpr int kRounds = 2;         // syncs after the last write, in consecutive rounds
  static constexpr int kAttempts = 30;      // rounds to try them in
  static constexpr int kRecentRounds = 10;  // a subscribe 10-20 rounds after them brings them back

  // A message of `channel` was published: its syncs are due again from the next round.
  void written(const std::string& channel) { due_[channel] = {kRounds, kAttempts}; }
  // A frontend subscribed `channel`: if it was written lately, its syncs are due again.
  void subscribed(const std::string& channel);

  struct Round {
    size_t deferred = 0;                 // syncs refused (a pipe was full): tried next round
    std::vector<std::string> abandoned;  // channels whose sync ran out of attempts
  };
  // One round: send(channel) for every channel due, true when the sync went out (or there is
  // nothing to send). Channels done or out of attempts leave the schedule.
  template <class Send>
  Round round(Send&& send);

  size_t size() const noexcept { return due_.size(); }

 private:
  struct Due {
    int rounds;    // syncs still to send
    int attempts;  // rounds left to try in
  };
  std::unordered_map<std::string, Due> due_;
  // Channels that left the schedule in the last kRecentRounds rounds ([0]) and the ones before
  // ([1]): two generations, so forgetting them costs nothing per round.
  std::unordered_set<std::string> recent_[2];
  int roundsInGeneration_ = 0;
};

inline void SyncSchedule::subscribed(const std::string& channel) {
  if (due_.count(channel) != 0 || recent_[0].count(channel) != 0 || recent_[1].count(channel) != 0) written(channel);
}

template <class Send>
SyncSchedule::Round SyncSchedule::round(Send&& send) {
  if (++roundsInGeneration_ > kRecentRounds) {
    recent_[1] = std::move(recent_[0]);
    recent_[0].clear();
    roundsInGeneration_ = 1;
  }
  Round out;
  for (auto it = due_.begin(); it != due_.end();) {
    Due& due = it->second;
    if (send(it->first)) {
      --due.rounds;
    } else {
      ++out.deferred;
    }
    if (due.rounds <= 0 || --due.attempts <= 0) {
      if (due.rounds > 0) out.abandoned.push_back(it->first);
      auto next = std::next(it);
      recent_[0].insert(std::move(due_.extract(it).key()));
      it = next;
    } else {
      ++it;
    }
  }
  return out;
}

}  // namespace webim::hub
