#include "frontend/metrics.h"

#include <sstream>

namespace webim {

namespace {
void counter(std::ostringstream& out, const char* name, const char* help, const char* type, uint64_t value,
             const std::string& labels) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
      << name << '{' << labels << "} " << value << '\n';
}
}  // namespace

std::string Metrics::render(const std::string& frontendId, size_t channels, size_t subscriptions) const {
  std::ostringstream out;
  std::string labels = "frontend=\"" + frontendId + "\"";
  counter(out, "webim_connections_accepted_total", "TCP connections accepted", "counter", connectionsAccepted, labels);
  counter(out, "webim_connections", "TCP connections open", "gauge", connectionsOpen, labels);
  counter(out, "webim_connections_refused_total", "connections refused at the cap", "counter", connectionsRefused,
          labels);
  counter(out, "webim_accept_errors_total", "accept failures (EMFILE, ...)", "counter", acceptErrors, labels);
  counter(out, "webim_websockets", "WebSocket connections open", "gauge", websocketsOpen, labels);
  counter(out, "webim_authenticated", "authenticated connections open", "gauge", authenticated, labels);
  counter(out, "webim_messages_in_total", "client requests received", "counter", messagesIn, labels);
  counter(out, "webim_messages_out_total", "frames queued to clients", "counter", messagesOut, labels);
  counter(out, "webim_deliveries_total", "msg frames queued to subscribers", "counter", deliveries, labels);
  counter(out, "webim_bytes_out_total", "bytes queued to clients", "counter", bytesOut, labels);
  counter(out, "webim_publishes_total", "client publishes acknowledged", "counter", publishes, labels);
  counter(out, "webim_signals_total", "client signals handed to a hub", "counter", signalsOut, labels);
  counter(out, "webim_signal_deliveries_total", "signal frames queued to subscribers", "counter", signalDeliveries,
          labels);
  counter(out, "webim_publish_errors_total", "client publishes answered with an error", "counter", publishErrors,
          labels);
  counter(out, "webim_hub_timeouts_total", "hub requests past their deadline", "counter", hubTimeouts, labels);
  counter(out, "webim_gaps_total", "seq gaps seen in the hub's stream", "counter", gaps, labels);
  counter(out, "webim_gap_messages_filled_total", "messages fetched from history to fill gaps", "counter",
          gapMessagesFilled, labels);
  counter(out, "webim_resyncs_total", "gaps history could not fill (resync sent to clients)", "counter", resyncs,
          labels);
  counter(out, "webim_catch_up_read_retries_total", "history reads (gap fills, recoveries) retried after unavailable",
          "counter", catchUpReadRetries, labels);
  counter(out, "webim_streams_too_slow_total", "event streams ended for not keeping up (backlog limit, stalled write)",
          "counter", streamsTooSlow, labels);
  counter(out, "webim_user_cap_refusals_total", "connections refused by max_connections_per_user", "counter",
          userCapRefusals, labels);
  counter(out, "webim_address_cap_refusals_total", "connections refused by max_connections_per_address", "counter",
          addressCapRefusals, labels);
  counter(out, "webim_inbox_attaches_total", "inboxes the hub acknowledged routing here", "counter", inboxAttaches,
          labels);
  counter(out, "webim_inbox_attach_retries_total", "inbox attach requests not acknowledged, retried", "counter",
          inboxAttachRetries, labels);
  counter(out, "webim_http_requests_total", "plain HTTP requests served", "counter", httpRequests, labels);
  counter(out, "webim_event_streams", "SSE event streams open (GET /events)", "gauge", eventStreams, labels);
  counter(out, "webim_long_polls", "long-polls waiting (GET /events)", "gauge", longPolls, labels);
  counter(out, "webim_rate_limited_total", "requests over rate_limit (WebSockets closed 4008, POST /cmd refused)",
          "counter", rateLimited, labels);
  counter(out, "webim_fills_total", "history reads started to fill a gap", "counter", fills, labels);
  counter(out, "webim_duplicates_dropped_total", "hub deliveries dropped as already delivered", "counter",
          duplicatesDropped, labels);
  counter(out, "webim_backlog_bytes", "bytes waiting for backed-up sockets", "gauge", backlogBytes, labels);
  counter(out, "webim_channels", "channels with local subscribers", "gauge", channels, labels);
  counter(out, "webim_hub_subscriptions", "topics subscribed at the hub", "gauge", subscriptions, labels);
  out << "# HELP webim_closes_total connections closed, by close code (1006: dropped without a close)\n"
      << "# TYPE webim_closes_total counter\n";
  for (const auto& [code, count] : closesByCode) {
    out << "webim_closes_total{" << labels << ",code=\"" << code << "\"} " << count << '\n';
  }
  std::string text = out.str();
  publishAck.render(text, "webim_publish_ack_seconds", "client publish sent to the hub until its ack", labels);
  deliveryFlush.render(text, "webim_delivery_flush_seconds",
                       "first hub delivery of a loop iteration until that iteration's sockets are written", labels);
  return text;
}

}  // namespace webim
