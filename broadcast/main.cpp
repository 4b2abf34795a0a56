// webim-broadcast: the broadcast hub (see hub.h), or `webim-broadcast request` (request_client.h).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <iostream>
#include <memory>
#include <zmq.hpp>

#include "broadcast/hub.h"
#include "broadcast/hub_config.h"
#include "broadcast/request_client.h"
#include "broadcast/rocksdb_store.h"

namespace {

volatile std::sig_atomic_t gStop = 0;

extern "C" void onStopSignal(int) { gStop = 1; }

void installSignalHandlers() {
  struct sigaction action {};
  action.sa_handler = onStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: zmq_poll returns EINTR and the loop checks gStop
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
}

int badConfig(const std::string& message) {
  std::cerr << "webim-broadcast: bad config: " << message << "\n";
  return webim::hub::kExitBadConfig;
}

int serve(const webim::hub::HubConfig& config) {
  auto logger = spdlog::stderr_color_mt("webim-broadcast");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(config.logLevel));
  installSignalHandlers();

  std::unique_ptr<webim::hub::RocksDbHistoryStore> store;
  try {
    store = std::make_unique<webim::hub::RocksDbHistoryStore>(config.data);
  } catch (const webim::hub::HistoryStoreError& e) {
    return badConfig(std::string("data: ") + e.what());
  }
  int code = 0;
  {
    zmq::context_t context(1);
    webim::hub::Hub hub(config, *store, context);
    const std::pair<const char*, void (webim::hub::Hub::*)()> binds[] = {
        {"app_ingress", &webim::hub::Hub::bindAppIngress},
        {"hub_ingress", &webim::hub::Hub::bindHubIngress},
        {"hub_pub", &webim::hub::Hub::bindHubPub}};
    for (auto [name, bind] : binds) {
      try {
        (hub.*bind)();
      } catch (const zmq::error_t& e) {
        return badConfig(std::string(name) + ": cannot bind: " + e.what());
      }
    }
    spdlog::info("webim-broadcast ready {} data={} sync={}", hub.boundEndpoints(), config.data,
                 config.sync);
    try {
      hub.run(&gStop);
    } catch (const std::exception& e) {
      spdlog::critical("webim-broadcast failed: {}", e.what());
      code = 1;
    }
  }  // sockets close, then the context terminates
  store.reset();  // closes RocksDB
  spdlog::info("webim-broadcast stopped");
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
    case webim::hub::CommandLine::Mode::Serve:
      return serve(cmd.config);
  }
  return 1;
}
