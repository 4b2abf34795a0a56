#include "frontend/frontend_config.h"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

using namespace webim;

namespace {

ConfigOutcome load(std::vector<std::string> args, FrontendConfig& config) {
  const std::string secretFile = "frontend_config_test.secret";
  std::ofstream(secretFile) << "0123456789abcdef0123456789abcdef\n";
  std::vector<std::string> all = {"webim-frontend", "--secret-file", secretFile};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  const ConfigOutcome outcome = loadFrontendConfig(static_cast<int>(argv.size()), argv.data(), config);
  std::remove(secretFile.c_str());
  return outcome;
}

}  // namespace

TEST_CASE("frontend config: hub endpoints are tcp:// or ipc://, never inproc:// (the hub is another process)",
          "[frontend_config]") {
  FrontendConfig ok;
  CHECK(load({"--hub-ingress", "ipc:///tmp/webim-hub", "--hub-pub", "tcp://127.0.0.1:5562"}, ok).run);
  for (const char* flag : {"--hub-ingress", "--hub-pub"}) {
    for (const char* endpoint : {"inproc://hub", "ipc://", "udp://127.0.0.1:1"}) {
      FrontendConfig config;
      const ConfigOutcome outcome = load({flag, endpoint}, config);
      CHECK_FALSE(outcome.run);
      CHECK(outcome.exitCode == 2);
    }
  }
}

TEST_CASE("frontend config: boolean flags take a value or stand alone", "[frontend_config]") {
  FrontendConfig a;
  REQUIRE(load({"--allow-any-origin", "true", "--allow-missing-origin", "false"}, a).run);
  CHECK(a.allowAnyOrigin);
  CHECK_FALSE(a.allowMissingOrigin);
  FrontendConfig b;
  REQUIRE(load({"--allow-any-origin"}, b).run);
  CHECK(b.allowAnyOrigin);
  CHECK(b.allowMissingOrigin);
}

TEST_CASE("frontend config: log_format is logfmt (default) or json", "[frontend_config]") {
  FrontendConfig a;
  REQUIRE(load({}, a).run);
  CHECK(a.logFormat == "logfmt");
  FrontendConfig b;
  REQUIRE(load({"--log-format", "json"}, b).run);
  CHECK(b.logFormat == "json");
  FrontendConfig c;
  const ConfigOutcome outcome = load({"--log-format", "JSON"}, c);
  CHECK_FALSE(outcome.run);
  CHECK(outcome.exitCode == 2);
}
