// The hub's metrics endpoint (metrics_listen): bound with the other sockets, polled in the loop,
// answered between batches (housekeeping), so a scrape waits at most one batch even under load.
#include <spdlog/spdlog.h>

#include "broadcast/hub.h"

namespace webim::hub {

void Hub::bindMetrics() {
  if (config_.metricsListen.empty()) return;
  metricsServer_ = std::make_unique<MetricsServer>(context_, config_.metricsListen);
  spdlog::info("metrics on {} (GET /metrics)", metricsServer_->boundAddress());
}

void Hub::serveMetrics() {
  if (!metricsServer_) return;
  if ((metricsServer_->socket().get(zmq::sockopt::events) & ZMQ_POLLIN) == 0) return;
  metricsServer_->serve([this] { return renderMetrics(); });
}

std::string Hub::renderMetrics() {
  HubGauges gauges;
  gauges.inFlightBatches = inFlight_.size();
  gauges.upsertRetries = store_.upsertRetries();
  return renderHubMetrics(metrics_, snapshotStats(), gauges, config_.shard.empty() ? "all" : config_.shard);
}

}  // namespace webim::hub
