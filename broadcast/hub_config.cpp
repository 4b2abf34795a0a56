#include "broadcast/hub_config.h"

#include <CLI/CLI.hpp>

#include <grp.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <tuple>
#include <vector>

#include "broadcast/delivery_mode.h"
#include "common/presence_namespaces.h"
#include "common/endpoint.h"
#include "common/log_line.h"
#include "common/program/config_binder.h"
#include "common/program/curve.h"

namespace webim::hub {

namespace {

constexpr int64_t kMaxDataBytesLimit = 1 << 20;  // a history page is at most 1 MiB
constexpr int64_t kMaxBatchLimit = 1000000;

using S = Setting<HubConfig>;
// Every setting: its TOML key (the flag is "--" + key with '-'), where it goes, its --help line.
constexpr S kSettings[] = {
    {"app_ingress", &HubConfig::appIngress, "app ingress endpoint (ROUTER, JSON)"},
    {"hub_ingress", &HubConfig::hubIngress, "frontend ingress endpoint (ROUTER, protobuf)"},
    {"hub_pub", &HubConfig::hubPub, "publish endpoint (XPUB)"},
    {"metrics_listen", &HubConfig::metricsListen,
     "HOST:PORT for Prometheus (GET /metrics), loopback unless firewalled; port 0: any free one; empty: off"},
    {"store", &HubConfig::store, "history store: rocksdb (embedded, --data) | postgres (--pg-dsn)"},
    {"data", &HubConfig::data, "store directory (RocksDB)"},
    {"wal_dir", &HubConfig::walDir, "RocksDB WAL directory, e.g. on a dedicated device (default: in --data)"},
    {"io_rate_limit", &HubConfig::ioRateLimit, "RocksDB flush + compaction writes, bytes/s (0 = unlimited; the WAL is never limited)"},
    {"bytes_per_sync", &HubConfig::bytesPerSync, "RocksDB: start writeback of SST files every this many bytes (0 = off)"},
    {"wal_bytes_per_sync", &HubConfig::walBytesPerSync, "RocksDB: start writeback of the WAL every this many bytes (0 = off)"},
    {"pg_dsn", &HubConfig::pgDsn,
     "PostgreSQL connection string for --store postgres, e.g. \"host=/run/postgresql dbname=webim\""},
    {"pg_pipeline", &HubConfig::pgPipeline,
     "PostgreSQL: commit batches without waiting for the WAL flush and flush it from a second connection "
     "(off by default: slower with the server on the hub's box)"},
    {"log_level", &HubConfig::logLevel, "trace|debug|info|warn|error|critical|off"},
    {"log_format", &HubConfig::logFormat, "logfmt|json: one line per record on stderr (docs/deploy.md \"Logs\")"},
    {"sync", &HubConfig::sync, "fsync every group commit (--no-sync or --sync=false to disable)"},
    {"dedup_ttl", &HubConfig::dedupTtl, "seconds a (from, cid) pair is remembered"},
    {"max_batch", &HubConfig::maxBatch, "requests per loop iteration / group commit"},
    {"max_data_bytes", &HubConfig::maxDataBytes, "largest data of one publish"},
    {"frontend_timeout", &HubConfig::frontendTimeout, "seconds without hello before a frontend is gone"},
    {"presence_settle_ms", &HubConfig::presenceSettleMs,
     "ms after a start in which frontends are waited for before presence stops saying settling"},
    {"presence_grace_ms", &HubConfig::presenceGraceMs,
     "ms a user gone from every frontend stays: a watched user's offline is told, a channel presence member leaves, "
     "only after it (a reconnect within it is no event; 0..600000)"},
    {"presence_settle_max_ms", &HubConfig::presenceSettleMaxMs, "ms after a start when presence stops saying settling at the latest"},
    {"channel_idle_timeout", &HubConfig::channelIdleTimeout, "seconds before an unused channel leaves the hub's memory"},
    {"revocation_ttl", &HubConfig::revocationTtl,
     "seconds a kick keeps refusing the user's older tokens (>= max_token_lifetime)"},
    {"pub_hwm", &HubConfig::pubHwm, "XPUB send high-water mark (messages)"},
    {"ingress_hwm", &HubConfig::ingressHwm, "ROUTER high-water marks (messages)"},
    {"shards", &HubConfig::shards, "shard table (JSON) shared by hubs, frontends and the PHP app"},
    {"shard", &HubConfig::shard, "this hub's shard name in the table"},
    {"curve_secret_key_file", &HubConfig::curveSecretKeyFile,
     "file with this hub's CURVE secret key (webim-broadcast keygen); required off loopback"},
    {"curve_frontend_clients", &HubConfig::curveFrontendClients,
     "file of the frontends' CURVE public keys, one per line: the only clients admitted on hub_ingress and hub_pub"},
    {"curve_app_clients", &HubConfig::curveAppClients,
     "file of the apps' CURVE public keys (PHP app, webim-broadcast request), one per line: the only clients "
     "admitted on app_ingress"},
    {"app_ingress_group", &HubConfig::appIngressGroup,
     "an ipc:// app_ingress socket belongs to this group, mode 0660 (default: the hub's user only, 0600)"},
    {"sync_interval_ms", &HubConfig::syncIntervalMs, "sync recently written channels every (ms)"},
    {"retention", &HubConfig::retention,
     "history retention rule PATTERN=COUNT/AGE, e.g. room:*=10000/30d (repeat the flag; COUNT/AGE '-' = no "
     "limit; --retention '' = keep everything)"},
    {"retention_interval", &HubConfig::retentionInterval, "seconds between the starts of two retention passes"},
    {"fast_namespaces", &HubConfig::fastNamespaces,
     "namespace whose messages are published once written, before their sync (the ack still waits for it; "
     "a crash starts new epochs there), e.g. room (repeat the flag; default: none, all durable)"},
    {"receipt_namespaces", &HubConfig::receiptNamespaces,
     "namespace whose read receipts go to the channel's subscribers, e.g. room (repeat the flag; dm: always "
     "has them; default: none)"},
    {"presence_namespaces", &HubConfig::presenceNamespaces,
     "namespace with channel presence (presence, presence_stats, join/leave events), e.g. room (repeat the flag; "
     "default: none); the frontends' presence_namespaces must match"},
    {"presence_max_members", &HubConfig::presenceMaxMembers,
     "members listed per presence channel (more are counted, not listed; 1..100000)"},
};

constexpr int64_t kMaxBytesPerSync = int64_t{1} << 30;

std::string validateRocksIo(const HubConfig& c) {
  if (c.store != "rocksdb" && !c.walDir.empty()) return "wal_dir: only for store = rocksdb";
  if (c.ioRateLimit < 0) return "io_rate_limit: must be >= 0 bytes/s (0 = unlimited)";
  if (c.ioRateLimit > 0 && c.ioRateLimit < (1 << 20)) return "io_rate_limit: must be 0 (unlimited) or >= 1048576 bytes/s";
  if (c.bytesPerSync < 0 || c.bytesPerSync > kMaxBytesPerSync) return "bytes_per_sync: must be 0..1073741824";
  if (c.walBytesPerSync < 0 || c.walBytesPerSync > kMaxBytesPerSync) return "wal_bytes_per_sync: must be 0..1073741824";
  return {};
}

}  // namespace

rocks::IoOptions rocksIoOptions(const HubConfig& c) {
  return {c.walDir, c.ioRateLimit, static_cast<uint64_t>(c.bytesPerSync), static_cast<uint64_t>(c.walBytesPerSync)};
}

std::string validateConfig(const HubConfig& c) {
  for (auto [name, ep] : std::array<std::pair<const char*, const std::string*>, 3>{
           {{"app_ingress", &c.appIngress}, {"hub_ingress", &c.hubIngress}, {"hub_pub", &c.hubPub}}})
    if (!isPeerEndpoint(*ep))
      return std::string(name) + ": '" + *ep + "' is not a tcp:// or ipc:// endpoint";
  if (!c.metricsListen.empty()) {
    const size_t colon = c.metricsListen.rfind(':');
    const std::string port = colon == std::string::npos ? std::string() : c.metricsListen.substr(colon + 1);
    if (colon == 0 || port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(port) > 65535)
      return "metrics_listen: '" + c.metricsListen + "' is not HOST:PORT (e.g. 127.0.0.1:9640), or empty for none";
  }
  if (c.store != "rocksdb" && c.store != "postgres")
    return "store: '" + c.store + "' is not one of rocksdb|postgres";
  if (c.store == "rocksdb" && c.data.empty()) return "data: must not be empty";
  if (std::string error = validateRocksIo(c); !error.empty()) return error;
  if (c.store == "postgres" && c.pgDsn.empty())
    return "pg_dsn: required with store = postgres (a libpq connection string, e.g. \"host=/run/postgresql dbname=webim\")";
  static const std::array<const char*, 7> levels = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  bool levelOk = false;
  for (const char* l : levels) levelOk |= c.logLevel == l;
  if (!levelOk) return "log_level: '" + c.logLevel + "' is not one of trace|debug|info|warn|error|critical|off";
  if (!parseLogFormat(c.logFormat)) return "log_format: '" + c.logFormat + "' is not one of logfmt|json";
  if (c.dedupTtl < 1) return "dedup_ttl: must be >= 1 second";
  if (c.revocationTtl < 60) return "revocation_ttl: must be >= 60 seconds";
  if (c.channelIdleTimeout < 2) return "channel_idle_timeout: must be >= 2 seconds";
  if (c.maxBatch < 1 || c.maxBatch > kMaxBatchLimit) return "max_batch: must be 1..1000000";
  if (c.maxDataBytes < 1 || c.maxDataBytes > kMaxDataBytesLimit) return "max_data_bytes: must be 1..1048576";
  if (c.frontendTimeout < 1) return "frontend_timeout: must be >= 1 second";
  if (c.presenceSettleMs < 0 || c.presenceSettleMaxMs < c.presenceSettleMs || c.presenceSettleMaxMs > 3600000) {
    return "presence_settle_ms / presence_settle_max_ms: must be 0 <= presence_settle_ms <= presence_settle_max_ms <= 3600000";
  }
  if (c.syncIntervalMs < 10 || c.syncIntervalMs > 3600000) return "sync_interval_ms: must be 10..3600000";
  if (c.pubHwm < 1 || c.pubHwm > INT32_MAX) return "pub_hwm: must be 1..2147483647";
  if (c.ingressHwm < 1 || c.ingressHwm > INT32_MAX) return "ingress_hwm: must be 1..2147483647";
  if (c.retentionInterval < 1 || c.retentionInterval > 86400 * 365) return "retention_interval: must be 1..31536000 seconds";
  if (std::string error = RetentionPolicy().parse(c.retention); !error.empty()) return "retention: " + error;
  if (std::string error = DeliveryModes().parse(c.fastNamespaces); !error.empty()) return "fast_namespaces: " + error;
  if (std::string error = PresenceNamespaces().parse(c.presenceNamespaces); !error.empty()) return "presence_namespaces: " + error;
  if (c.presenceMaxMembers < 1 || c.presenceMaxMembers > 100000) return "presence_max_members: must be 1..100000";
  if (c.presenceGraceMs < 0 || c.presenceGraceMs > 600000) return "presence_grace_ms: must be 0..600000";
  return {};
}

std::string loadShards(HubConfig& c) {
  if (c.shards.empty() && c.shard.empty()) return {};
  if (c.shards.empty() || c.shard.empty()) return "shards and shard go together (the table and this hub's name in it)";
  std::ifstream in(c.shards);
  if (!in) return "shards: cannot read '" + c.shards + "'";
  std::stringstream text;
  text << in.rdbuf();
  std::string error;
  std::optional<SlotMap> map = SlotMap::parse(text.str(), error);
  if (!map) return "shards: " + c.shards + ": " + error;
  std::optional<size_t> index = map->findShard(c.shard);
  if (!index) return "shard: '" + c.shard + "' is not in " + c.shards;
  c.shardIndex = *index;
  c.slotMap = std::make_shared<const SlotMap>(std::move(*map));
  return {};
}

std::string loadPeerLists(const HubConfig& c, PeerLists& lists) {
  PeerLists loaded;
  for (auto [name, path, out] : std::array<std::tuple<const char*, const std::string*, std::shared_ptr<const AllowList>*>, 2>{
           {{"curve_frontend_clients", &c.curveFrontendClients, &loaded.frontends},
            {"curve_app_clients", &c.curveAppClients, &loaded.apps}}}) {
    if (path->empty()) continue;
    std::ifstream in(*path);
    if (!in) return std::string(name) + ": cannot read '" + *path + "'";
    std::stringstream text;
    text << in.rdbuf();
    if (out == &loaded.frontends && c.slotMap) {  // peer hubs send dm notices on hub_ingress (hub_outbox.cpp)
      for (const Shard& shard : c.slotMap->shards()) {
        if (!shard.curveServerKey.empty()) text << '\n' << shard.curveServerKey << " # hub " << shard.name << '\n';
      }
    }
    std::string error;
    std::optional<AllowList> list = AllowList::parse(text.str(), error);
    if (!list) return std::string(name) + ": " + *path + ": " + error;
    *out = std::make_shared<const AllowList>(std::move(*list));
  }
  lists = std::move(loaded);
  return {};
}

namespace {

struct EndpointSetting {
  const char* name;
  const std::string* endpoint;
  const char* list;  // the allow-list setting guarding it
  bool listed;
};

std::array<EndpointSetting, 3> endpointSettings(const HubConfig& c) {
  return {{{"app_ingress", &c.appIngress, "curve_app_clients", !c.curveAppClients.empty()},
           {"hub_ingress", &c.hubIngress, "curve_frontend_clients", !c.curveFrontendClients.empty()},
           {"hub_pub", &c.hubPub, "curve_frontend_clients", !c.curveFrontendClients.empty()}}};
}

bool isAbstractIpc(const std::string& endpoint) { return endpoint.rfind("ipc://@", 0) == 0; }

}  // namespace

std::vector<std::string> peerAuthWarnings(const HubConfig& c) {
  std::vector<std::string> warnings;
  for (const EndpointSetting& e : endpointSettings(c)) {
    const bool openLocally = isAbstractIpc(*e.endpoint) || (e.endpoint->rfind("tcp://", 0) == 0 && isLoopbackEndpoint(*e.endpoint));
    if (!openLocally) continue;
    if (c.curveSecretKey.empty()) {
      warnings.push_back(std::string(e.name) + " " + *e.endpoint +
                         ": any local user can connect; use an ipc:// path in a directory only the hub's user "
                         "reaches, or CURVE with " + e.list + " (docs/configuration.md, \"Who may connect\")");
    } else if (!e.listed) {
      warnings.push_back(std::string(e.name) + " " + *e.endpoint + ": CURVE without " + e.list +
                         ": any local user holding the hub's public key can connect");
    }
  }
  return warnings;
}

std::string loadCurve(HubConfig& c) {
  if (!c.curveSecretKeyFile.empty()) {
    if (std::string error = readCurveSecretKey(c.curveSecretKeyFile, "curve_secret_key_file", c.curveSecretKey);
        !error.empty())
      return error;
  }
  if (c.curveSecretKey.empty()) {
    for (const EndpointSetting& e : endpointSettings(c)) {
      if (e.listed) return std::string(e.list) + " needs curve_secret_key_file: the keys are checked in the CURVE handshake";
    }
  }
  for (const EndpointSetting& e : endpointSettings(c)) {
    if (isLoopbackEndpoint(*e.endpoint)) continue;
    if (c.curveSecretKey.empty()) {
      return std::string(e.name) + ": " + *e.endpoint +
             " binds off loopback: CURVE is required (webim-broadcast keygen, then curve_secret_key_file)";
    }
    if (!e.listed) {
      return std::string(e.name) + ": " + *e.endpoint + " binds off loopback: give " + e.list +
             " (the public keys of the clients it admits; docs/configuration.md, \"Who may connect\")";
    }
  }
  if (c.slotMap && !c.curveSecretKey.empty()) {
    const Shard& own = c.slotMap->shards()[c.shardIndex];
    const std::string publicKey = curvePublicKeyOf(c.curveSecretKey);
    if (!own.curveServerKey.empty() && own.curveServerKey != publicKey) {
      return "curve_secret_key_file: this hub's public key is " + publicKey + ", but shard " + own.name +
             " in " + c.shards + " has curve_server_key " + own.curveServerKey + " (each hub its own key pair)";
    }
  }
  if (std::string error = loadPeerLists(c, c.peerLists); !error.empty()) return error;
  if (!c.appIngressGroup.empty()) {
    if (c.appIngress.rfind("ipc://", 0) != 0 || isAbstractIpc(c.appIngress))
      return "app_ingress_group: needs an ipc:// app_ingress with a path (the group owns its socket file)";
    errno = 0;
    const struct group* group = ::getgrnam(c.appIngressGroup.c_str());
    if (group == nullptr) {
      return "app_ingress_group: no group '" + c.appIngressGroup + "'" +
             (errno != 0 ? std::string(" (") + std::strerror(errno) + ")" : std::string());
    }
    c.appIngressGid = group->gr_gid;
  }
  return {};
}

namespace {

struct Subcommands {
  CLI::App* request;
  CLI::App* keygen;
};

Subcommands addSubcommands(CLI::App& app, CommandLine& result) {
  CLI::App* request = app.add_subcommand(
      "request", "send one JSON request to a hub's app ingress, print the reply (exit 3 when it is ok:false)\n"
                 "(`-` instead of the request: one request per stdin line, up to 256 in flight on one\n"
                 "connection, one reply line each in input order; exit 1 if one is not answered in time)");
  request->add_option("--app-ingress", result.request.appIngress, "app ingress endpoint")->required();
  request->add_option("--timeout-ms", result.request.timeoutMs, "reply deadline per request (exit 1 when exceeded)");
  request->add_option("json", result.request.json, "the request, one JSON object; - reads requests from stdin, one per line")->required();
  request->add_option("--server-key", result.request.serverKey, "the hub's CURVE public key (Z85), if it uses CURVE");
  request->add_option("--curve-secret-key-file", result.request.curveSecretKeyFile,
                      "this client's CURVE secret key (webim-broadcast keygen; its public key in the hub's curve_app_clients)");
  CLI::App* keygen = app.add_subcommand("keygen", "make a CURVE key pair: for a hub, a frontend or an app (the secret stays with it, the public key goes to its peers)");
  keygen->add_option("--out", result.keygen.out, "write PREFIX.key (secret, 0600) and PREFIX.pub instead of printing");
  return {request, keygen};
}

// `webim-broadcast request`: "" when its options hold together, else the error.
std::string checkRequest(RequestOptions& request) {
  if (!isPeerEndpoint(request.appIngress)) {
    return "--app-ingress: '" + request.appIngress + "' is not a tcp:// or ipc:// endpoint";
  }
  if (request.timeoutMs < 1) return "--timeout-ms must be >= 1";
  if (!request.serverKey.empty() && !isZ85Key(request.serverKey)) return "--server-key must be 40 Z85 characters";
  if (request.curveSecretKeyFile.empty()) return {};
  if (request.serverKey.empty()) return "--curve-secret-key-file goes with --server-key (the hub's public key)";
  return readCurveSecretKey(request.curveSecretKeyFile, "--curve-secret-key-file", request.curveSecretKey);
}

CommandLine exitWith(CommandLine& result, std::string_view prefix, const std::string& error) {
  std::cerr << prefix << error << "\n";
  result.exitCode = kExitBadConfig;
  return std::move(result);
}

}  // namespace

CommandLine parseCommandLine(int argc, char** argv) {
  CommandLine result;
  CLI::App app{"webim-broadcast: the webim broadcast hub (sequences, stores, publishes)", "webim-broadcast"};
  ConfigBinder<HubConfig> binder(app, kSettings);
  const Subcommands subcommands = addSubcommands(app, result);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    result.exitCode = app.exit(e);
    return result;
  } catch (const CLI::CallForAllHelp& e) {
    result.exitCode = app.exit(e);
    return result;
  } catch (const CLI::ParseError& e) {
    return exitWith(result, "webim-broadcast: ", e.what());
  }
  if (subcommands.request->parsed()) {
    if (std::string error = checkRequest(result.request); !error.empty()) {
      return exitWith(result, "webim-broadcast request: ", error);
    }
    result.mode = CommandLine::Mode::Request;
    return result;
  }
  if (subcommands.keygen->parsed()) {
    result.mode = CommandLine::Mode::Keygen;
    return result;
  }
  HubConfig config;
  if (std::string error = binder.apply(config); !error.empty()) return exitWith(result, "webim-broadcast: ", error);
  std::string error = validateConfig(config);
  if (error.empty()) error = loadShards(config);
  if (error.empty()) error = loadCurve(config);
  if (!error.empty()) return exitWith(result, "webim-broadcast: bad config: ", error);
  result.config = std::move(config);
  result.mode = CommandLine::Mode::Serve;
  return result;
}

}  // namespace webim::hub
