// webim-frontend: accepts browsers (WebSocket), verifies their tokens, relays publishes to the hub
// and fans the hub's messages out to local subscribers. One process per core, all on one port.
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstring>
#include <exception>
#include <iostream>

#include "common/program/logging.h"
#include "frontend/frontend.h"
#include "frontend/frontend_config.h"

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "token") == 0) return webim::runTokenCommand(argc, argv);

  webim::FrontendConfig config;
  webim::ConfigOutcome outcome = webim::loadFrontendConfig(argc, argv, config);
  if (!outcome.run) return outcome.exitCode;

  webim::setupLogging({"webim-frontend", config.id, *webim::parseLogFormat(config.logFormat), config.logLevel});
  // A peer that vanishes mid-write must not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  try {
    webim::Frontend frontend(config);
    frontend.setReloader([argc, argv](webim::FrontendConfig& fresh, std::string& error) {
      return webim::reloadFrontendConfig(argc, argv, fresh, error);
    });
    int code = frontend.run();
    webim::flushLogs();
    return code;
  } catch (const std::exception& e) {
    spdlog::critical("fatal: {}", e.what());
    return 1;
  }
}
