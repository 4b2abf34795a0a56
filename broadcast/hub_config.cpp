#include "broadcast/hub_config.h"

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include <grp.h>
#include <zmq.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <tuple>
#include <vector>

#include "common/endpoint.h"

namespace webim::hub {

namespace {

constexpr int64_t kMaxDataBytesLimit = 1 << 20;  // a history page is at most 1 MiB
constexpr int64_t kMaxBatchLimit = 1000000;

// One configurable setting: its flag/TOML name and how to bind it. Both the CLI and the TOML
// reader walk this table, so a setting cannot exist in one and not the other.
struct Setting {
  const char* name;  // TOML key; the flag is "--" + name with '_' -> '-'
  const char* help;
  std::function<std::string*(HubConfig&)> text;
  std::function<int64_t*(HubConfig&)> number;
  std::function<bool*(HubConfig&)> flag;
  std::function<std::vector<std::string>*(HubConfig&)> list = {};  // TOML array of strings; repeatable flag
};

const std::vector<Setting>& settings() {
  static const std::vector<Setting> table = {
      {"app_ingress", "app ingress endpoint (ROUTER, JSON)", [](HubConfig& c) { return &c.appIngress; }, {}, {}},
      {"hub_ingress", "frontend ingress endpoint (ROUTER, protobuf)", [](HubConfig& c) { return &c.hubIngress; }, {}, {}},
      {"hub_pub", "publish endpoint (XPUB)", [](HubConfig& c) { return &c.hubPub; }, {}, {}},
      {"store", "history store: rocksdb (embedded, --data) | postgres (--pg-dsn)", [](HubConfig& c) { return &c.store; }, {}, {}},
      {"data", "store directory (RocksDB)", [](HubConfig& c) { return &c.data; }, {}, {}},
      {"pg_dsn", "PostgreSQL connection string for --store postgres, e.g. \"host=/run/postgresql dbname=webim\"", [](HubConfig& c) { return &c.pgDsn; }, {}, {}},
      {"log_level", "trace|debug|info|warn|error|critical|off", [](HubConfig& c) { return &c.logLevel; }, {}, {}},
      {"sync", "fsync every group commit (--no-sync or --sync=false to disable)", {}, {}, [](HubConfig& c) { return &c.sync; }},
      {"dedup_ttl", "seconds a (from, cid) pair is remembered", {}, [](HubConfig& c) { return &c.dedupTtl; }, {}},
      {"max_batch", "requests per loop iteration / group commit", {}, [](HubConfig& c) { return &c.maxBatch; }, {}},
      {"max_data_bytes", "largest data of one publish", {}, [](HubConfig& c) { return &c.maxDataBytes; }, {}},
      {"frontend_timeout", "seconds without hello before a frontend is gone", {}, [](HubConfig& c) { return &c.frontendTimeout; }, {}},
      {"channel_idle_timeout", "seconds before an unused channel leaves the hub's memory", {}, [](HubConfig& c) { return &c.channelIdleTimeout; }, {}},
      {"revocation_ttl", "seconds a kick keeps refusing the user's older tokens (>= max_token_lifetime)", {}, [](HubConfig& c) { return &c.revocationTtl; }, {}},
      {"pub_hwm", "XPUB send high-water mark (messages)", {}, [](HubConfig& c) { return &c.pubHwm; }, {}},
      {"ingress_hwm", "ROUTER high-water marks (messages)", {}, [](HubConfig& c) { return &c.ingressHwm; }, {}},
      {"shards", "shard table (JSON) shared by hubs, frontends and the PHP app", [](HubConfig& c) { return &c.shards; }, {}, {}},
      {"shard", "this hub's shard name in the table", [](HubConfig& c) { return &c.shard; }, {}, {}},
      {"curve_secret_key_file", "file with this hub's CURVE secret key (webim-broadcast keygen); required off loopback", [](HubConfig& c) { return &c.curveSecretKeyFile; }, {}, {}},
      {"curve_frontend_clients", "file of the frontends' CURVE public keys, one per line: the only clients admitted on hub_ingress and hub_pub", [](HubConfig& c) { return &c.curveFrontendClients; }, {}, {}},
      {"curve_app_clients", "file of the apps' CURVE public keys (PHP app, webim-broadcast request), one per line: the only clients admitted on app_ingress", [](HubConfig& c) { return &c.curveAppClients; }, {}, {}},
      {"app_ingress_group", "an ipc:// app_ingress socket belongs to this group, mode 0660 (default: the hub's user only, 0600)", [](HubConfig& c) { return &c.appIngressGroup; }, {}, {}},
      {"sync_interval_ms", "sync recently written channels every (ms)", {}, [](HubConfig& c) { return &c.syncIntervalMs; }, {}},
      {"retention", "history retention rule PATTERN=COUNT/AGE, e.g. room:*=10000/30d (repeat the flag; COUNT/AGE '-' = no limit; --retention '' = keep everything)", {}, {}, {}, [](HubConfig& c) { return &c.retention; }},
      {"retention_interval", "seconds between the starts of two retention passes", {}, [](HubConfig& c) { return &c.retentionInterval; }, {}},
  };
  return table;
}

std::string flagName(const char* key) {
  std::string name = std::string("--") + key;
  for (char& ch : name)
    if (ch == '_') ch = '-';
  return name;
}

bool validEndpoint(const std::string& ep) {
  for (std::string_view scheme : {"tcp://", "ipc://"})
    if (ep.size() > scheme.size() && ep.compare(0, scheme.size(), scheme) == 0) return true;
  return false;
}

}  // namespace

std::string loadTomlConfig(const std::string& path, HubConfig& config) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return "config " + path + ": " + std::string(e.description());
  }
  for (const auto& [key, node] : table) {
    const Setting* setting = nullptr;
    for (const Setting& s : settings())
      if (key.str() == s.name) setting = &s;
    if (!setting) return "config " + path + ": unknown key '" + std::string(key.str()) + "'";
    const std::string where = "config " + path + ": key '" + std::string(key.str()) + "' must be ";
    if (setting->list) {
      const toml::array* array = node.as_array();
      if (!array) return where + "an array of strings";
      std::vector<std::string> values;
      for (const toml::node& item : *array) {
        if (!item.is_string()) return where + "an array of strings";
        values.push_back(*item.value<std::string>());
      }
      *setting->list(config) = std::move(values);
    } else if (setting->text) {
      if (!node.is_string()) return where + "a string";
      *setting->text(config) = *node.value<std::string>();
    } else if (setting->number) {
      if (!node.is_integer()) return where + "an integer";
      *setting->number(config) = *node.value<int64_t>();
    } else {
      if (!node.is_boolean()) return where + "a boolean";
      *setting->flag(config) = *node.value<bool>();
    }
  }
  return {};
}

std::string validateConfig(const HubConfig& c) {
  for (auto [name, ep] : std::array<std::pair<const char*, const std::string*>, 3>{
           {{"app_ingress", &c.appIngress}, {"hub_ingress", &c.hubIngress}, {"hub_pub", &c.hubPub}}})
    if (!validEndpoint(*ep))
      return std::string(name) + ": '" + *ep + "' is not a tcp:// or ipc:// endpoint";
  if (c.store != "rocksdb" && c.store != "postgres")
    return "store: '" + c.store + "' is not one of rocksdb|postgres";
  if (c.store == "rocksdb" && c.data.empty()) return "data: must not be empty";
  if (c.store == "postgres" && c.pgDsn.empty())
    return "pg_dsn: required with store = postgres (a libpq connection string, e.g. \"host=/run/postgresql dbname=webim\")";
  static const std::array<const char*, 7> levels = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  bool levelOk = false;
  for (const char* l : levels) levelOk |= c.logLevel == l;
  if (!levelOk) return "log_level: '" + c.logLevel + "' is not one of trace|debug|info|warn|error|critical|off";
  if (c.dedupTtl < 1) return "dedup_ttl: must be >= 1 second";
  if (c.revocationTtl < 60) return "revocation_ttl: must be >= 60 seconds";
  if (c.channelIdleTimeout < 2) return "channel_idle_timeout: must be >= 2 seconds";
  if (c.maxBatch < 1 || c.maxBatch > kMaxBatchLimit) return "max_batch: must be 1..1000000";
  if (c.maxDataBytes < 1 || c.maxDataBytes > kMaxDataBytesLimit) return "max_data_bytes: must be 1..1048576";
  if (c.frontendTimeout < 1) return "frontend_timeout: must be >= 1 second";
  if (c.syncIntervalMs < 10 || c.syncIntervalMs > 3600000) return "sync_interval_ms: must be 10..3600000";
  if (c.pubHwm < 1 || c.pubHwm > INT32_MAX) return "pub_hwm: must be 1..2147483647";
  if (c.ingressHwm < 1 || c.ingressHwm > INT32_MAX) return "ingress_hwm: must be 1..2147483647";
  if (c.retentionInterval < 1 || c.retentionInterval > 86400 * 365) return "retention_interval: must be 1..31536000 seconds";
  if (std::string error = RetentionPolicy().parse(c.retention); !error.empty()) return "retention: " + error;
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

std::string readCurveSecretKey(const std::string& path, const std::string& setting, std::string& key) {
  std::ifstream in(path);
  if (!in) return setting + ": cannot read '" + path + "'";
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (!isZ85Key(line)) return setting + ": '" + path + "' must hold a 40-character Z85 key";
  key = line;
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
    char publicKey[41];
    if (zmq_curve_public(publicKey, c.curveSecretKey.c_str()) == 0 && !own.curveServerKey.empty() &&
        own.curveServerKey != publicKey) {
      return "curve_secret_key_file: this hub's public key is " + std::string(publicKey) + ", but shard " + own.name +
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

CommandLine parseCommandLine(int argc, char** argv) {
  CommandLine result;
  CLI::App app{"webim-broadcast: the webim broadcast hub (sequences, stores, publishes)", "webim-broadcast"};
  std::string configPath;
  app.add_option("--config", configPath, "TOML file; keys are the flag names with '_'");
  HubConfig flags;  // values given on the command line; applied over the file's
  std::vector<std::pair<CLI::Option*, const Setting*>> options;
  for (const Setting& s : settings()) {
    CLI::Option* opt = nullptr;
    if (s.list) {
      opt = app.add_option(flagName(s.name), *s.list(flags), s.help)->expected(1)->take_all();
    } else if (s.text) {
      opt = app.add_option(flagName(s.name), *s.text(flags), s.help);
    } else if (s.number) {
      opt = app.add_option(flagName(s.name), *s.number(flags), s.help);
    } else {
      opt = app.add_flag(flagName(s.name) + ",!--no-" + std::string(s.name), *s.flag(flags), s.help);
    }
    options.emplace_back(opt, &s);
  }

  CLI::App* request = app.add_subcommand(
      "request", "send one JSON request to a hub's app ingress, print the reply\n"
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

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    result.exitCode = app.exit(e);
    return result;
  } catch (const CLI::CallForAllHelp& e) {
    result.exitCode = app.exit(e);
    return result;
  } catch (const CLI::ParseError& e) {
    std::cerr << "webim-broadcast: " << e.what() << "\n";
    result.exitCode = kExitBadConfig;
    return result;
  }

  if (request->parsed()) {
    if (result.request.timeoutMs < 1) {
      std::cerr << "webim-broadcast request: --timeout-ms must be >= 1\n";
      result.exitCode = kExitBadConfig;
      return result;
    }
    if (!result.request.serverKey.empty() && !isZ85Key(result.request.serverKey)) {
      std::cerr << "webim-broadcast request: --server-key must be 40 Z85 characters\n";
      result.exitCode = kExitBadConfig;
      return result;
    }
    if (!result.request.curveSecretKeyFile.empty()) {
      if (result.request.serverKey.empty()) {
        std::cerr << "webim-broadcast request: --curve-secret-key-file goes with --server-key (the hub's public key)\n";
        result.exitCode = kExitBadConfig;
        return result;
      }
      std::string error = readCurveSecretKey(result.request.curveSecretKeyFile, "--curve-secret-key-file",
                                             result.request.curveSecretKey);
      if (!error.empty()) {
        std::cerr << "webim-broadcast request: " << error << "\n";
        result.exitCode = kExitBadConfig;
        return result;
      }
    }
    result.mode = CommandLine::Mode::Request;
    return result;
  }
  if (keygen->parsed()) {
    result.mode = CommandLine::Mode::Keygen;
    return result;
  }

  HubConfig config;
  if (!configPath.empty()) {
    if (std::string error = loadTomlConfig(configPath, config); !error.empty()) {
      std::cerr << "webim-broadcast: " << error << "\n";
      result.exitCode = kExitBadConfig;
      return result;
    }
  }
  for (auto [opt, s] : options) {
    if (opt->count() == 0) continue;
    if (s->list) {
      // `--retention ''` alone means "no rules" (keep everything).
      std::vector<std::string> values = *s->list(flags);
      std::erase_if(values, [](const std::string& v) { return v.empty(); });
      *s->list(config) = std::move(values);
    } else if (s->text) *s->text(config) = *s->text(flags);
    else if (s->number) *s->number(config) = *s->number(flags);
    else *s->flag(config) = *s->flag(flags);
  }
  std::string error = validateConfig(config);
  if (error.empty()) error = loadShards(config);
  if (error.empty()) error = loadCurve(config);
  if (!error.empty()) {
    std::cerr << "webim-broadcast: bad config: " << error << "\n";
    result.exitCode = kExitBadConfig;
    return result;
  }
  result.config = std::move(config);
  result.mode = CommandLine::Mode::Serve;
  return result;
}

}  // namespace webim::hub
