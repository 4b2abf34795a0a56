// The kinds of event lines (docs/deploy.md "Logs"): written at info with `event=<name>`, each kind
// rate-limited on its own (log_limiter.h), so an attack cannot flood the journal.
#pragma once

#include <cstddef>
#include <string_view>

namespace webim {

enum class LogEvent : unsigned char {
  TokenRejected,      // a token, sid or API key refused: the reason, never the credential
  RateLimitClose,     // a connection closed over rate_limit (4008)
  Kick,               // a kick closed a user's connections here
  HubLinkLost,        // the connection to a hub dropped
  HubLinkBack,        // ... and is up again
  SlowConsumerClose,  // closed over max_backlog_bytes or a stalled write (4009, an event stream ended)
};
inline constexpr size_t kLogEventCount = 6;

constexpr std::string_view logEventName(LogEvent event) noexcept {
  switch (event) {
    case LogEvent::TokenRejected:
      return "token_rejected";
    case LogEvent::RateLimitClose:
      return "rate_limit_close";
    case LogEvent::Kick:
      return "kick";
    case LogEvent::HubLinkLost:
      return "hub_link_lost";
    case LogEvent::HubLinkBack:
      return "hub_link_back";
    case LogEvent::SlowConsumerClose:
      return "slow_consumer_close";
  }
  return "unknown";
}

}  // namespace webim
