#include "frontend/frontend_config.h"

#include <catch2/catch.hpp>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

using namespace webim;

namespace {

ConfigOutcome load(std::vector<std::string> args, FrontendConfig& config) {
  // One file per process: CTest runs this binary's test cases as concurrent processes.
  const std::string secretFile = "frontend_config_test." + std::to_string(::getpid()) + ".secret";
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

TEST_CASE("frontend config: the id and the private port default from the host name and the instance",
          "[frontend_config]") {
  CHECK(defaultFrontendId("web3", 2, 4711) == "web3-2");
  CHECK(defaultFrontendId("web3", -1, 4711) == "web3-pid4711");
  CHECK(defaultAdminListen(0) == "127.0.0.1:9650");
  CHECK(defaultAdminListen(7) == "127.0.0.1:9657");
  CHECK(defaultAdminListen(-1) == "127.0.0.1:0");

  FrontendConfig numbered;
  REQUIRE(load({"--instance", "3"}, numbered).run);
  CHECK(numbered.id.ends_with("-3"));
  CHECK(numbered.adminListen == "127.0.0.1:9653");
  CHECK_FALSE(numbered.publicAdmin);
  FrontendConfig named;
  REQUIRE(load({"--instance", "3", "--id", "fe9", "--admin-listen", "[::1]:0", "--public-admin"}, named).run);
  CHECK(named.id == "fe9");
  CHECK(named.adminListen == "[::1]:0");
  CHECK(named.publicAdmin);
  for (std::vector<std::string> bad : {std::vector<std::string>{"--instance", "1024"}, {"--instance", "-2"},
                                       {"--admin-listen", "localhost"}}) {
    FrontendConfig config;
    const ConfigOutcome outcome = load(bad, config);
    CHECK_FALSE(outcome.run);
    CHECK(outcome.exitCode == 2);
  }
}
