#include "common/program/logging.h"

#include <pthread.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <csignal>

#include <cerrno>
#include <chrono>
#include <memory>
#include <mutex>

#include "common/log_limiter.h"

namespace webim {

namespace {

// The event and fields of the line being logged on this thread, for the sink (spdlog's records
// carry only a message). Set by writeLogEvent around its one spdlog call; the logger is synchronous,
// so the sink runs inside that call, on this thread.
thread_local std::string_view tEvent;
thread_local std::span<const LogField> tFields;

std::mutex gLimiterMutex;  // the hub's store thread may log too
LogLimiter gLimiter;

uint64_t monotonicMs() {
  using namespace std::chrono;
  return static_cast<uint64_t>(duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
}

std::string_view levelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "off";
  }
}

void writeAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // stderr gone: nothing better to do with a log line
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

// stderr, one line per record, one write(2) per line (lines of two threads never interleave).
class LineSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit LineSink(const LogSetup& setup) : program_(setup.program), id_(setup.id), format_(setup.format) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    using namespace std::chrono;
    LogLine line;
    line.unixMs = duration_cast<milliseconds>(msg.time.time_since_epoch()).count();
    line.level = levelName(msg.level);
    line.program = program_;
    line.id = id_;
    line.message = std::string_view(msg.payload.data(), msg.payload.size());
    line.event = tEvent;
    line.fields = tFields;
    write(line);
  }

  // Called every second by spdlog's flusher (and by flushLogs): the counts of suppressed lines.
  void flush_() override {
    std::vector<LogLimiter::Suppressed> counts;
    {
      std::lock_guard lock(gLimiterMutex);
      counts = gLimiter.takeSuppressed();
    }
    const int64_t nowMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    for (const LogLimiter::Suppressed& s : counts) {
      const LogField fields[] = {{"kind", logEventName(s.event)}, {"suppressed", s.count}};
      write(
          {nowMs, "info", program_, id_, "log lines suppressed by the rate limit", "log_suppressed", fields});
    }
  }

 private:
  void write(const LogLine& line) {
    buffer_.clear();
    appendLogLine(buffer_, format_, line);
    writeAll(STDERR_FILENO, buffer_);
  }

  std::string program_;
  std::string id_;
  LogFormat format_;
  std::string buffer_;
};

}  // namespace

void setupLogging(const LogSetup& setup) {
  auto logger =
      std::make_shared<spdlog::logger>(std::string(setup.program), std::make_shared<LineSink>(setup));
  logger->set_level(spdlog::level::from_str(setup.level));
  spdlog::set_default_logger(logger);
  // spdlog's flusher thread inherits this thread's signal mask: with every signal blocked there, a
  // SIGTERM or SIGHUP always reaches the main thread (the hub relies on it interrupting zmq_poll).
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &previous);
  spdlog::flush_every(std::chrono::seconds(1));
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

void flushLogs() { spdlog::default_logger_raw()->flush(); }

bool admitLogEvent(LogEvent event) {
  if (!spdlog::default_logger_raw()->should_log(spdlog::level::info)) return false;
  std::lock_guard lock(gLimiterMutex);
  return gLimiter.admit(event, monotonicMs());
}

void writeLogEvent(LogEvent event, std::string_view message, std::span<const LogField> fields) {
  tEvent = logEventName(event);
  tFields = fields;
  spdlog::info("{}", message);
  tEvent = {};
  tFields = {};
}

}  // namespace webim
