#include "broadcast/hub_config.h"

#include <catch2/catch.hpp>
#include <unistd.h>

#include <cstdio>
#include <fstream>
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
  // The pipelined commit on PostgreSQL is opt-in.
  CHECK_FALSE(cmd.config.pgPipeline);
  CHECK(parse({"--store", "postgres", "--pg-dsn", "dbname=x", "--pg-pipeline"}).config.pgPipeline);
}

TEST_CASE("hub config: fast_namespaces, none by default, namespaces only", "[hub_config]") {
  CHECK(parse({}).config.fastNamespaces.empty());
  CHECK(parse({"--fast-namespaces", "room", "--fast-namespaces", "pub"}).config.fastNamespaces ==
        std::vector<std::string>{"room", "pub"});
  CHECK(parse({"--fast-namespaces", "room:*"}).exitCode == kExitBadConfig);
}

TEST_CASE("hub config: RocksDB I/O options (wal_dir, io_rate_limit, bytes_per_sync, wal_bytes_per_sync)",
          "[hub_config]") {
  const CommandLine defaults = parse({});
  REQUIRE(defaults.mode == CommandLine::Mode::Serve);
  const rocks::IoOptions d = rocksIoOptions(defaults.config);
  CHECK(d.walDir.empty());
  CHECK(d.rateLimitBytesPerSec == 0);
  CHECK(d.bytesPerSync == 1048576);
  CHECK(d.walBytesPerSync == 1048576);

  const CommandLine cmd = parse({"--wal-dir", "/srv/wal", "--io-rate-limit", "67108864", "--bytes-per-sync", "0",
                                 "--wal-bytes-per-sync", "524288"});
  REQUIRE(cmd.mode == CommandLine::Mode::Serve);
  const rocks::IoOptions io = rocksIoOptions(cmd.config);
  CHECK(io.walDir == "/srv/wal");
  CHECK(io.rateLimitBytesPerSec == 67108864);
  CHECK(io.bytesPerSync == 0);
  CHECK(io.walBytesPerSync == 524288);

  for (std::vector<std::string> bad : std::vector<std::vector<std::string>>{
           {"--io-rate-limit", "-1"},
           {"--io-rate-limit", "1000"},  // below 1 MiB/s: a typo, not a limit
           {"--bytes-per-sync", "-1"},
           {"--wal-bytes-per-sync", "2147483648"},
           {"--store", "postgres", "--pg-dsn", "dbname=x", "--wal-dir", "/srv/wal"}}) {
    const CommandLine c = parse(bad);
    CHECK(c.mode == CommandLine::Mode::Exit);
    CHECK(c.exitCode == kExitBadConfig);
  }
}

TEST_CASE("hub config: the RocksDB I/O keys from a --config file", "[hub_config]") {
  const std::string path = "/tmp/webim-hub-config-test-" + std::to_string(::getpid()) + ".toml";
  {
    std::ofstream f(path);
    f << "wal_dir = \"/srv/wal\"\nio_rate_limit = 33554432\nbytes_per_sync = 2097152\nwal_bytes_per_sync = 0\n";
  }
  const CommandLine cmd = parse({"--config", path, "--bytes-per-sync", "4194304"});
  std::remove(path.c_str());
  REQUIRE(cmd.mode == CommandLine::Mode::Serve);
  CHECK(cmd.config.walDir == "/srv/wal");
  CHECK(cmd.config.ioRateLimit == 33554432);
  CHECK(cmd.config.bytesPerSync == 4194304);  // the flag wins
  CHECK(cmd.config.walBytesPerSync == 0);
}

TEST_CASE("hub config: log_format is logfmt (default) or json", "[hub_config]") {
  CHECK(parse({}).config.logFormat == "logfmt");
  CHECK(parse({"--log-format", "json"}).config.logFormat == "json");
  CHECK(parse({"--log-format", "text"}).exitCode == kExitBadConfig);
}

TEST_CASE("hub config: metrics_listen is HOST:PORT, or empty for none", "[hub_config]") {
  CHECK(parse({}).config.metricsListen == "127.0.0.1:0");
  for (const char* ok : {"127.0.0.1:9640", "127.0.0.1:0", "[::1]:9640", "0.0.0.0:9640", ""}) {
    CHECK(parse({"--metrics-listen", ok}).mode == CommandLine::Mode::Serve);
  }
  for (const char* bad : {"localhost", "127.0.0.1:", ":9640", "127.0.0.1:99999", "127.0.0.1:http"}) {
    const CommandLine cmd = parse({"--metrics-listen", bad});
    CHECK(cmd.mode == CommandLine::Mode::Exit);
    CHECK(cmd.exitCode == kExitBadConfig);
  }
}
