#include "broadcast/erase_job.h"

#include <algorithm>
#include <charconv>

#include "common/json_writer.h"

namespace webim::hub {

bool EraseJobs::validUser(std::string_view user) {
  return !user.empty() && user.size() <= 128 && user.find_first_of(std::string_view("\0\t\r\n", 4)) == std::string_view::npos;
}

bool EraseJobs::start(const std::string& user) {
  Status& status = jobs_[user];
  if (status.state == State::Running) return true;
  if (queue_.size() >= kMaxRunning) {
    if (status.state == State::None) jobs_.erase(user);
    return false;
  }
  if (status.state == State::Done) done_.erase(std::find(done_.begin(), done_.end(), user));
  status = Status{State::Running, 0};
  queue_.push_back(user);
  return true;
}

void EraseJobs::progress(uint64_t erased, bool more) {
  if (queue_.empty()) return;
  std::string user = std::move(queue_.front());
  queue_.pop_front();
  Status& status = jobs_[user];
  status.erased += erased;
  if (more) {
    queue_.push_back(std::move(user));
    return;
  }
  status.state = State::Done;
  done_.push_back(std::move(user));
  if (done_.size() > kMaxDone) {
    jobs_.erase(done_.front());
    done_.pop_front();
  }
}

EraseJobs::Status EraseJobs::status(const std::string& user) const {
  auto it = jobs_.find(user);
  return it == jobs_.end() ? Status{} : it->second;
}

std::string EraseJobs::serialize() const {
  std::string out;
  for (const std::string& user : queue_) out.append(user).append("\t").append(std::to_string(jobs_.at(user).erased)).append("\n");
  return out;
}

EraseJobs EraseJobs::parse(std::string_view text) {
  EraseJobs jobs;
  while (!text.empty()) {
    const size_t end = std::min(text.find('\n'), text.size());
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    const size_t tab = line.find('\t');
    if (tab == std::string_view::npos || !validUser(line.substr(0, tab))) continue;
    uint64_t erased = 0;
    const std::string_view count = line.substr(tab + 1);
    if (std::from_chars(count.data(), count.data() + count.size(), erased).ec != std::errc()) continue;
    const std::string user(line.substr(0, tab));
    if (!jobs.start(user)) break;
    jobs.jobs_[user].erased = erased;
  }
  return jobs;
}

std::string encodeEraseStatus(std::string_view user, const EraseJobs::Status& status, std::optional<uint64_t> remaining) {
  const char* state = status.state == EraseJobs::State::Running ? "running"
                      : status.state == EraseJobs::State::Done  ? "done"
                                                                : "none";
  std::string out;
  JsonWriter w(out);
  w.beginObject().key("ok").boolean(true).key("user").string(user).key("state").string(state);
  w.key("erased").uinteger(status.erased);
  if (remaining) w.key("remaining").uinteger(*remaining);
  w.endObject();
  return out;
}

}  // namespace webim::hub
