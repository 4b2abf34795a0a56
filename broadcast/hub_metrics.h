// The hub's Prometheus series (served by MetricsServer at GET /metrics on metrics_listen; every
// series is listed in docs/deploy.md "Metrics and health"). Pure: counted by the loop, rendered
// from a snapshot; the fsync histogram alone is fed by the sync thread (FsyncHistogram).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "broadcast/app_request.h"
#include "common/latency_histogram.h"

namespace webim::hub {

// Per channel namespace (the name up to its first ':', "room" of "room:1"; "" without one):
// messages and bytes published. At most kMaxNamespaces distinct ones, the rest counted as "other",
// so names chosen by clients cannot grow the table.
class NamespaceCounters {
 public:
  static constexpr size_t kMaxNamespaces = 64;
  struct Entry {
    std::string name;
    uint64_t messages = 0;
    uint64_t bytes = 0;
    int64_t subscribed = 0;  // channel topics of the namespace subscribed on the XPUB
  };
  static std::string_view namespaceOf(std::string_view channel) noexcept;
  void published(std::string_view channel, size_t bytes);
  // A channel topic gained its first subscriber (+1) or lost its last (-1).
  void subscribed(std::string_view channel, int delta);
  const std::vector<Entry>& entries() const noexcept { return entries_; }

 private:
  Entry& entry(std::string_view channel);
  std::vector<Entry> entries_;  // few: a linear scan beats a hash of every channel name
};

// The sync thread's observations, read by the loop when rendering.
class FsyncHistogram {
 public:
  void observeNs(uint64_t nanos) {
    std::lock_guard lock(mutex_);
    histogram_.observeNs(nanos);
  }
  LatencyHistogram snapshot() const {
    std::lock_guard lock(mutex_);
    return histogram_;
  }

 private:
  mutable std::mutex mutex_;
  LatencyHistogram histogram_;
};

struct HubMetrics {
  LatencyHistogram commit;  // a batch's store write started -> durable (its replies go out)
  FsyncHistogram fsync;     // one store sync (WAL fdatasync; PostgreSQL: the synchronous commit)
  uint64_t batches = 0;     // batches received and staged (group commits attempted)
  uint64_t attachRequests = 0;
  uint64_t attachedUsers = 0;
  uint64_t idConflicts = 0;  // attaches/hellos refused: a second live process with a known frontend id
  uint64_t presenceReports = 0;  // ChannelPresenceUpdate requests (channel presence)
  uint64_t presenceEvents = 0;   // join/leave events published
  NamespaceCounters namespaces;
};

// What the loop reads at scrape time beside the counters.
struct HubGauges {
  uint64_t inFlightBatches = 0;
  uint64_t upsertRetries = 0;  // PostgreSQL: commits sent again with upserts (0 on RocksDB)
};

std::string renderHubMetrics(const HubMetrics& metrics, const HubStats& stats, const HubGauges& gauges,
                             const std::string& shard);

}  // namespace webim::hub
