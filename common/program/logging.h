// Logging of both programs: one place sets spdlog up (setupLogging), so every `spdlog::info(...)`
// comes out as a logfmt or JSON line (common/log_line.h) on stderr with the program and its id;
// and the event lines of docs/deploy.md "Logs" (logEvent), rate-limited per kind
// (common/log_limiter.h). Call sites stay on spdlog.
#pragma once

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "common/log_event.h"
#include "common/log_line.h"

namespace webim {

struct LogSetup {
  std::string_view program;  // webim-frontend | webim-broadcast
  std::string id;            // the frontend's id, the hub's shard
  LogFormat format = LogFormat::Logfmt;
  std::string level = "info";  // spdlog level name (validated by the config)
};

// Makes spdlog's default logger write `format` lines to stderr (one write(2) per line), and starts
// spdlog's flusher, which writes the suppressed-line counts every second.
void setupLogging(const LogSetup& setup);

// Writes the suppressed-line counts now (before exit).
void flushLogs();

// True when an event line of this kind should be written now: info is enabled and its bucket has a
// token. False counts it as suppressed. Check it before computing costly fields.
bool admitLogEvent(LogEvent event);

// Writes the event line at info (after admitLogEvent said yes).
void writeLogEvent(LogEvent event, std::string_view message, std::span<const LogField> fields);

inline void logEvent(LogEvent event, std::string_view message, std::initializer_list<LogField> fields) {
  if (admitLogEvent(event))
    writeLogEvent(event, message, std::span<const LogField>(fields.begin(), fields.size()));
}

}  // namespace webim
