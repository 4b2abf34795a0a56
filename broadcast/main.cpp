// webim-broadcast: the broadcast hub (see hub.h), or `webim-broadcast request` (request_client.h).
#include <spdlog/spdlog.h>

#include <csignal>
#include <iostream>
#include <memory>
#include <zmq.hpp>

#include "broadcast/hub.h"
#include "broadcast/hub_config.h"
#include "broadcast/postgres_store.h"
#include "broadcast/request_client.h"
#include "broadcast/rocksdb_store.h"
#include "common/program/logging.h"

namespace {

volatile std::sig_atomic_t gStop = 0;
volatile std::sig_atomic_t gReload = 0;

extern "C" void onStopSignal(int) { gStop = 1; }
extern "C" void onReloadSignal(int) { gReload = 1; }

void installSignalHandlers() {
  struct sigaction action {};
  action.sa_handler = onStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: zmq_poll returns EINTR and the loop checks gStop
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  action.sa_handler = onReloadSignal;  // SIGHUP rereads the CURVE allow-lists
  sigaction(SIGHUP, &action, nullptr);
}

int badConfig(const std::string& message) {
  std::cerr << "webim-broadcast: bad config: " << message << "\n";
  return webim::hub::kExitBadConfig;
}

int serve(const webim::hub::HubConfig& config) {
  webim::setupLogging({"webim-broadcast", config.shard.empty() ? std::string("hub") : config.shard,
                       *webim::parseLogFormat(config.logFormat), config.logLevel});
  installSignalHandlers();

  // The store is opened once at start; a store that cannot be opened/reached is a bad config.
  std::unique_ptr<webim::hub::HistoryStore> store;
  std::string storeDescription;
  try {
    if (config.store == "postgres") {
      store = std::make_unique<webim::hub::PostgresHistoryStore>(
          webim::hub::PostgresStoreOptions{config.pgDsn, config.dedupTtl * 1000, config.pgPipeline});
      storeDescription = "store=postgres";
    } else {
      store = std::make_unique<webim::hub::RocksDbHistoryStore>(config.data, webim::hub::rocksIoOptions(config));
      storeDescription = "store=rocksdb data=" + config.data;
    }
  } catch (const webim::hub::HistoryStoreError& e) {
    return badConfig(std::string(config.store == "postgres" ? "pg_dsn: " : "data: ") + e.what());
  }
  int code = 0;
  {
    zmq::context_t context(1);
    std::unique_ptr<webim::hub::Hub> made;
    try {
      made = std::make_unique<webim::hub::Hub>(config, *store, context);
    } catch (const webim::hub::HistoryStoreError& e) {
      spdlog::critical("cannot start: the store: {}", e.what());
      return 1;
    }
    webim::hub::Hub& hub = *made;
    hub.setReloadFlag(&gReload);
    const std::pair<const char*, void (webim::hub::Hub::*)()> binds[] = {
        {"app_ingress", &webim::hub::Hub::bindAppIngress},
        {"hub_ingress", &webim::hub::Hub::bindHubIngress},
        {"hub_pub", &webim::hub::Hub::bindHubPub},
        {"metrics_listen", &webim::hub::Hub::bindMetrics}};
    for (auto [name, bind] : binds) {
      try {
        (hub.*bind)();
      } catch (const std::exception& e) {  // zmq::error_t, or the ipc socket file's mode/group
        return badConfig(std::string(name) + ": cannot bind: " + e.what());
      }
    }
    for (const std::string& warning : webim::hub::peerAuthWarnings(config)) spdlog::warn("{}", warning);
    try {
      hub.beginRun();
    } catch (const webim::hub::HistoryStoreError& e) {
      spdlog::critical("cannot start: the store: {}", e.what());
      return 1;
    }
    spdlog::info("webim-broadcast ready {} {} sync={}", hub.boundEndpoints(), storeDescription,
                 config.sync);
    try {
      hub.run(&gStop);
    } catch (const std::exception& e) {
      spdlog::critical("webim-broadcast failed: {}", e.what());
      code = 1;
    }
  }  // sockets close, then the context terminates
  store.reset();  // closes RocksDB / the PostgreSQL connection
  spdlog::info("webim-broadcast stopped");
  webim::flushLogs();
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  webim::hub::CommandLine cmd = webim::hub::parseCommandLine(argc, argv);
  switch (cmd.mode) {
    case webim::hub::CommandLine::Mode::Exit:
      return cmd.exitCode;
    case webim::hub::CommandLine::Mode::Request:
      return webim::hub::runRequest(cmd.request);
    case webim::hub::CommandLine::Mode::Keygen:
      return webim::hub::runKeygen(cmd.keygen);
    case webim::hub::CommandLine::Mode::Serve:
      return serve(cmd.config);
  }
  return 1;
}
