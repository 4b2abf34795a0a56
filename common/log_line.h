// One log line of either program, in the format the operator chose (`log_format`, docs/deploy.md
// "Logs"): logfmt or JSON, one line per record, always valid UTF-8 without control bytes (journald
// keeps a line with either as a binary blob). Pure: no I/O, no clock; common/program/logging.cpp
// feeds it spdlog's records.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace webim {

enum class LogFormat { Logfmt, Json };

// "logfmt" | "json"; nullopt for anything else.
std::optional<LogFormat> parseLogFormat(std::string_view name) noexcept;

// A key=value of a line beyond the fixed ones. Keys are identifiers written in the code; values may
// carry anything a client sent (escaped when written). A number is written bare in JSON.
struct LogField {
  std::string_view key;
  std::string value;
  bool number = false;

  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const char* v) : key(k), value(v) {}
  template <class Int, std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>, int> = 0>
  LogField(std::string_view k, Int v) : key(k), value(std::to_string(v)), number(true) {}
};

struct LogLine {
  int64_t unixMs = 0;        // wall clock, ms since the epoch (written in UTC)
  std::string_view level;    // trace|debug|info|warn|error|critical
  std::string_view program;  // webim-frontend | webim-broadcast
  std::string_view id;       // the frontend's id, the hub's shard
  std::string_view message;
  std::string_view event;  // empty, or the kind of an event line (log_event.h)
  std::span<const LogField> fields;
};

// Appends the line and its '\n'. Fixed keys first, in this order: ts level program id msg [event]
// then the fields. logfmt: a value is bare when it is non-empty printable ASCII without space, '"',
// '=' or '\', else quoted with \" \\ \n \r \t and \u00XX for other control bytes. JSON: one object,
// strings escaped per RFC 8259. In both, each byte of invalid UTF-8 becomes U+FFFD.
void appendLogLine(std::string& out, LogFormat format, const LogLine& line);

// RFC 3339 in UTC with milliseconds and an explicit offset: 2026-12-05T10:31:02.123+00:00.
void appendRfc3339Utc(std::string& out, int64_t unixMs);

// One logfmt value (bare or quoted, as above).
void appendLogfmtValue(std::string& out, std::string_view value);

}  // namespace webim
