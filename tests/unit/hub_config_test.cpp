#include "broadcast/hub_config.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace webim::hub;

namespace {

CommandLine parse(std::vector<std::string> args) {
  std::vector<char*> argv{const_cast<char*>("webim-broadcast")};
  for (std::string& a : args) argv.push_back(a.data());
  return parseCommandLine(static_cast<int>(argv.size()), argv.data());
}

}  // namespace

TEST_CASE("hub config: endpoints are tcp:// or ipc://, never inproc:// (the frontends are other processes)",
          "[hub_config]") {
  CHECK(parse({"--hub-ingress", "ipc:///tmp/webim-test-ingress"}).mode == CommandLine::Mode::Serve);
  for (const char* flag : {"--app-ingress", "--hub-ingress", "--hub-pub"}) {
    for (const char* endpoint : {"inproc://hub", "tcp://", "udp://127.0.0.1:1"}) {
      const CommandLine cmd = parse({flag, endpoint});
      CHECK(cmd.mode == CommandLine::Mode::Exit);
      CHECK(cmd.exitCode == kExitBadConfig);
    }
  }
}

TEST_CASE("webim-broadcast request: the same endpoint rule for --app-ingress", "[hub_config]") {
  CHECK(parse({"request", "--app-ingress", "ipc:///tmp/webim-app", "{}"}).mode == CommandLine::Mode::Request);
  const CommandLine cmd = parse({"request", "--app-ingress", "inproc://app", "{}"});
  CHECK(cmd.mode == CommandLine::Mode::Exit);
  CHECK(cmd.exitCode == kExitBadConfig);
}

TEST_CASE("hub config: flags over defaults, --no-sync, --retention ''", "[hub_config]") {
  const CommandLine cmd = parse({"--no-sync", "--max-batch", "7", "--retention", ""});
  REQUIRE(cmd.mode == CommandLine::Mode::Serve);
  CHECK_FALSE(cmd.config.sync);
  CHECK(cmd.config.maxBatch == 7);
  CHECK(cmd.config.retention.empty());
  CHECK(parse({"--sync=false"}).config.sync == false);
  CHECK(parse({"--max-batch", "0"}).exitCode == kExitBadConfig);
}
