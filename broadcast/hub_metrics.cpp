#include "broadcast/hub_metrics.h"

namespace webim::hub {

std::string_view NamespaceCounters::namespaceOf(std::string_view channel) noexcept {
  size_t colon = channel.find(':');
  return colon == std::string_view::npos ? std::string_view() : channel.substr(0, colon);
}

NamespaceCounters::Entry& NamespaceCounters::entry(std::string_view channel) {
  const std::string_view name = namespaceOf(channel);
  for (Entry& e : entries_) {
    if (e.name == name) return e;
  }
  if (entries_.size() >= kMaxNamespaces - 1) {  // the last entry is "other"
    if (entries_.size() < kMaxNamespaces) entries_.push_back(Entry{"other"});
    return entries_.back();
  }
  entries_.push_back(Entry{std::string(name)});
  return entries_.back();
}

void NamespaceCounters::published(std::string_view channel, size_t bytes) {
  Entry& e = entry(channel);
  e.messages++;
  e.bytes += bytes;
}

void NamespaceCounters::subscribed(std::string_view channel, int delta) {
  entry(channel).subscribed += delta;
}

namespace {
struct Writer {
  std::string& out;
  const std::string& labels;
  void series(const char* name, const char* help, const char* type, uint64_t value) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ").append(name).append(" ");
    out.append(type).append("\n").append(name).append("{").append(labels).append("} ");
    out.append(std::to_string(value)).append("\n");
  }
};

void perNamespace(std::string& out, const std::string& labels, const NamespaceCounters& namespaces,
                  const char* name, const char* help, const char* type,
                  uint64_t NamespaceCounters::Entry::*field) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ").append(name).append(" ");
  out.append(type).append("\n");
  for (const NamespaceCounters::Entry& e : namespaces.entries()) {
    out.append(name).append("{").append(labels).append(",namespace=\"").append(e.name).append("\"} ");
    out.append(std::to_string(e.*field)).append("\n");
  }
}
}  // namespace

std::string renderHubMetrics(const HubMetrics& m, const HubStats& s, const HubGauges& g,
                             const std::string& shard) {
  std::string out;
  const std::string labels = "shard=\"" + shard + "\"";
  Writer w{out, labels};
  w.series("webim_hub_uptime_seconds", "seconds since the hub started", "gauge", s.uptimeS);
  w.series("webim_hub_channels", "channels with a stored position", "gauge", s.channels);
  w.series("webim_hub_channels_in_memory", "channels the hub holds in memory", "gauge", s.channelsInMemory);
  w.series("webim_hub_messages_total", "messages sequenced, stored and published", "counter", s.published);
  w.series("webim_hub_duplicates_total", "publishes answered from a dedup record", "counter", s.duplicates);
  w.series("webim_hub_batches_total", "request batches staged (one group commit each)", "counter", m.batches);
  w.series("webim_hub_commits_total", "group commits that succeeded", "counter", s.commits);
  w.series("webim_hub_commit_failures_total", "group commits that failed", "counter", s.commitFailures);
  w.series("webim_hub_in_flight_batches", "batches written and waiting for their sync", "gauge",
           g.inFlightBatches);
  w.series("webim_hub_store_upsert_retries_total", "PostgreSQL commits sent again with upserts", "counter",
           g.upsertRetries);
  w.series("webim_hub_frontends", "frontends heard from within frontend_timeout", "gauge", s.frontends);
  w.series("webim_hub_frontend_id_conflicts_total", "attaches refused: two running frontends with one id",
           "counter", m.idConflicts);
  w.series("webim_hub_attach_requests_total", "inbox attach requests", "counter", m.attachRequests);
  w.series("webim_hub_presence_reports_total", "channel presence reports from frontends", "counter",
           m.presenceReports);
  w.series("webim_hub_presence_events_total", "channel presence join/leave events published", "counter",
           m.presenceEvents);
  w.series("webim_hub_attached_users_total", "inboxes named by attach requests", "counter", m.attachedUsers);
  w.series("webim_hub_inbox_users", "users whose inbox is routed to a frontend", "gauge", s.inboxUsers);
  w.series("webim_hub_watched_users", "users some frontend watches (the watchlist)", "gauge", s.watchedUsers);
  w.series("webim_hub_subscribed_topics", "topics with a subscriber on the publish socket", "gauge",
           s.subscribedTopics);
  w.series("webim_hub_subscribes_total", "subscribe messages on the publish socket", "counter", s.subscribes);
  w.series("webim_hub_unsubscribes_total", "unsubscribe messages on the publish socket", "counter",
           s.unsubscribes);
  w.series("webim_hub_app_requests_total", "requests on the app ingress", "counter", s.appRequests);
  w.series("webim_hub_frontend_requests_total", "requests on the frontend ingress", "counter",
           s.frontendRequests);
  w.series("webim_hub_bad_requests_total", "requests answered bad_request", "counter", s.badRequests);
  w.series("webim_hub_kicks_total", "kicks published", "counter", s.kicks);
  w.series("webim_hub_syncs_deferred_total", "periodic syncs retried: a frontend's pipe was full", "counter",
           s.syncsDeferred);
  w.series("webim_hub_auth_admitted_total", "CURVE handshakes admitted", "counter", s.authAdmitted);
  w.series("webim_hub_auth_refused_total", "CURVE handshakes refused", "counter", s.authRefused);
  w.series("webim_hub_signals_total", "signals published (never stored)", "counter", s.signals);
  perNamespace(out, labels, m.namespaces, "webim_hub_namespace_messages_total",
               "messages published, by channel namespace", "counter", &NamespaceCounters::Entry::messages);
  perNamespace(out, labels, m.namespaces, "webim_hub_namespace_bytes_total",
               "message data bytes published, by channel namespace", "counter",
               &NamespaceCounters::Entry::bytes);
  out.append(
      "# HELP webim_hub_namespace_subscribed_channels channels subscribed by a frontend, by namespace\n"
      "# TYPE webim_hub_namespace_subscribed_channels gauge\n");
  for (const NamespaceCounters::Entry& e : m.namespaces.entries()) {
    out.append("webim_hub_namespace_subscribed_channels{")
        .append(labels)
        .append(",namespace=\"")
        .append(e.name);
    out.append("\"} ").append(std::to_string(e.subscribed < 0 ? 0 : e.subscribed)).append("\n");
  }
  m.commit.render(out, "webim_hub_commit_seconds", "a batch's store write until it is durable", labels);
  m.fsync.snapshot().render(out, "webim_hub_fsync_seconds", "one store sync (fdatasync, synchronous commit)",
                            labels);
  return out;
}

}  // namespace webim::hub
