#include "frontend/frontend_config.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "common/endpoint.h"
#include "common/log_line.h"
#include "common/program/config_binder.h"
#include "common/program/curve.h"
#include "common/token.h"
#include "frontend/listen_address.h"

namespace webim {
namespace {

using S = Setting<FrontendConfig>;
// Every setting: its TOML key (the flag is "--" + key with '-'), where it goes, its --help line.
constexpr S kSettings[] = {
    {"listen", &FrontendConfig::listen, "HOST:PORT to accept browsers on (SO_REUSEPORT)"},
    {"hub_ingress", &FrontendConfig::hubIngress, "hub's frontend ingress endpoint"},
    {"hub_pub", &FrontendConfig::hubPub, "hub's publish endpoint"},
    {"hub_public_key", &FrontendConfig::hubPublicKey, "the hub's CURVE public key (Z85), off loopback"},
    {"curve_secret_key_file", &FrontendConfig::curveSecretKeyFile,
     "this frontend's CURVE secret key (webim-broadcast keygen; its public key in the hubs' curve_frontend_clients)"},
    {"shards", &FrontendConfig::shards, "shard table (JSON): connect to every hub, route by slot"},
    {"secret_file", &FrontendConfig::secretFile, "token secrets, one per line (>= 32 bytes each)"},
    {"api_key_file", &FrontendConfig::apiKeyFile, "HTTP API keys, one per line (>= 16 bytes); off if unset"},
    {"id", &FrontendConfig::id, "this frontend's id (default <host name>-<instance>, or <host name>-pid<pid>)"},
    {"instance", &FrontendConfig::instance,
     "this process's number on its host, 0..1023 (the unit's %i): default id and admin port"},
    {"admin_listen", &FrontendConfig::adminListen,
     "HOST:PORT of the private listener: /metrics /healthz /readyz /api (default 127.0.0.1:9650+instance, or :0)"},
    {"public_admin", &FrontendConfig::publicAdmin, "also serve /metrics and /api on the public listener"},
    {"static_dir", &FrontendConfig::staticDirs, "serve files: DIR (at /) or /prefix/=DIR; repeatable"},
    {"log_level", &FrontendConfig::logLevel, "trace|debug|info|warn|error|critical|off"},
    {"log_format", &FrontendConfig::logFormat, "logfmt|json: one line per record on stderr (docs/deploy.md \"Logs\")"},
    {"handshake_timeout_ms", &FrontendConfig::handshakeTimeoutMs, "HTTP head must arrive within"},
    {"auth_timeout_ms", &FrontendConfig::authTimeoutMs, "first frame must be auth within"},
    {"hub_timeout_ms", &FrontendConfig::hubTimeoutMs, "hub request deadline (then 'unavailable')"},
    {"close_timeout_ms", &FrontendConfig::closeTimeoutMs, "wait for the peer's close this long"},
    {"drain_window_ms", &FrontendConfig::drainWindowMs,
     "SIGTERM: send the connections away (1012) spread over this long, then exit; 0: at once"},
    {"heartbeat_ms", &FrontendConfig::heartbeatMs, "hello to the hub every"},
    {"ping_interval_ms", &FrontendConfig::pingIntervalMs, "ping a connection silent this long"},
    {"pong_timeout_ms", &FrontendConfig::pongTimeoutMs, "drop it if nothing arrives this long after a ping"},
    {"write_timeout_ms", &FrontendConfig::writeTimeoutMs, "a write stalled this long closes the connection"},
    {"rate_limit", &FrontendConfig::rateLimit, "requests per second per connection (4008 beyond)"},
    {"rate_burst", &FrontendConfig::rateBurst, "request burst per connection"},
    {"max_forbidden", &FrontendConfig::maxForbidden, "denied requests before closing 4003"},
    {"max_subscriptions", &FrontendConfig::maxSubscriptions, "channels per connection (too_large beyond; <= 65535)"},
    {"max_fragments", &FrontendConfig::maxFragments, "frames per message (1009 beyond)"},
    {"recovery_max_messages", &FrontendConfig::recoveryMaxMessages, "sub with since: recover at most"},
    {"recovery_max_bytes", &FrontendConfig::recoveryMaxBytes, "sub with since: recover at most (bytes)"},
    {"poll_timeout_ms", &FrontendConfig::pollTimeoutMs, "HTTP fallback long-poll answers [] after"},
    {"sse_keepalive_ms", &FrontendConfig::sseKeepaliveMs, "HTTP fallback SSE comment line every"},
    {"max_message_bytes", &FrontendConfig::maxMessageBytes, "largest client message (1009 beyond)"},
    {"max_signal_bytes", &FrontendConfig::maxSignalBytes, "largest data of a signal (too_large beyond)"},
    {"sub_read_cursors", &FrontendConfig::subReadCursors,
     "sub replies carry the read cursors (one request per shard per sub request)"},
    {"max_connections", &FrontendConfig::maxConnections, "connections held by this process"},
    {"max_connections_per_user", &FrontendConfig::maxConnectionsPerUser,
     "WebSockets and event streams per user (4029 / HTTP 429 beyond)"},
    {"max_connections_per_address", &FrontendConfig::maxConnectionsPerAddress,
     "browser connections per client address (HTTP 429 beyond); 0: no cap"},
    {"trusted_proxies", &FrontendConfig::trustedProxies,
     "proxies (IP or CIDR) whose X-Forwarded-For gives the client address"},
    {"max_backlog_bytes", &FrontendConfig::maxBacklogBytes, "unsent bytes per connection (4009 beyond)"},
    {"max_token_lifetime", &FrontendConfig::maxTokenLifetime,
     "seconds: refuse tokens whose exp lies further ahead (4001 / 401)"},
    {"allowed_origins", &FrontendConfig::allowedOrigins, "extra allowed Origins (scheme://host[:port])"},
    {"allow_missing_origin", &FrontendConfig::allowMissingOrigin, "accept handshakes without Origin"},
    {"allow_any_origin", &FrontendConfig::allowAnyOrigin, "accept every Origin"},
    {"presence_namespaces", &FrontendConfig::presenceNamespaces,
     "namespace with channel presence, e.g. room (repeat the flag; default: none); as on the hubs"},
};

std::vector<std::string> readSecrets(const std::string& path, size_t minBytes) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read secret file '" + path + "'");
  std::vector<std::string> secrets;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    if (line.size() < minBytes) {
      throw std::runtime_error("'" + path + "': every line must be at least " + std::to_string(minBytes) + " bytes");
    }
    secrets.push_back(line);
  }
  if (secrets.empty()) throw std::runtime_error("secret file '" + path + "' holds no secret");
  return secrets;
}

constexpr uint32_t kMaxTokenLifetimeLimit = 10 * 365 * 86400;

void validateLimits(const FrontendConfig& config) {
  for (const uint32_t* ms : {&config.handshakeTimeoutMs, &config.authTimeoutMs, &config.hubTimeoutMs,
                             &config.closeTimeoutMs, &config.heartbeatMs, &config.pingIntervalMs,
                             &config.pongTimeoutMs, &config.writeTimeoutMs, &config.pollTimeoutMs,
                             &config.sseKeepaliveMs}) {
    if (*ms == 0) throw std::runtime_error("timeouts must be positive");
  }
  if (config.maxMessageBytes < 1024) throw std::runtime_error("--max-message-bytes must be at least 1024");
  if (config.maxBacklogBytes < config.maxMessageBytes) {
    throw std::runtime_error("--max-backlog-bytes must be at least --max-message-bytes");
  }
  if (config.drainWindowMs > 600'000) throw std::runtime_error("--drain-window-ms must be at most 600000 (10 minutes)");
  if (config.maxConnections == 0) throw std::runtime_error("--max-connections must be positive");
  if (config.rateLimit == 0 || config.rateBurst == 0) {
    throw std::runtime_error("--rate-limit and --rate-burst must be positive");
  }
  if (config.maxFragments == 0) throw std::runtime_error("--max-fragments must be positive");
  if (config.maxForbidden == 0 || config.maxForbidden > 255) throw std::runtime_error("--max-forbidden must be 1..255");
  if (config.maxConnectionsPerUser == 0 || config.maxConnectionsPerUser > 65535) {
    throw std::runtime_error("--max-connections-per-user must be 1..65535");
  }
  if (config.recoveryMaxBytes > 4 * 1024 * 1024) {
    // A replay must fit the allowance of a client's own replies (docs/protocol.md "Limits").
    throw std::runtime_error("--recovery-max-bytes must be at most 4194304");
  }
  if (config.maxTokenLifetime == 0 || config.maxTokenLifetime > kMaxTokenLifetimeLimit) {
    throw std::runtime_error("--max-token-lifetime must be 1.." + std::to_string(kMaxTokenLifetimeLimit) +
                             " seconds (10 years)");
  }
  if (config.maxSubscriptions == 0 || config.maxSubscriptions > 65535) {
    throw std::runtime_error("--max-subscriptions must be 1..65535");
  }
}

// The hubs: the shard table, or one hub from --hub-ingress/--hub-pub.
void loadHubs(FrontendConfig& config) {
  if (config.shards.empty()) {
    config.slotMap = std::make_shared<const SlotMap>(
        SlotMap::single({"hub", "", config.hubIngress, config.hubPub, config.hubPublicKey}));
    return;
  }
  std::ifstream in(config.shards);
  if (!in) throw std::runtime_error("--shards: cannot read '" + config.shards + "'");
  std::stringstream text;
  text << in.rdbuf();
  std::string error;
  std::optional<SlotMap> map = SlotMap::parse(text.str(), error);
  if (!map) throw std::runtime_error("--shards " + config.shards + ": " + error);
  for (const Shard& shard : map->shards()) {
    if (!isPeerEndpoint(shard.hubIngress) || !isPeerEndpoint(shard.hubPub)) {
      throw std::runtime_error("--shards " + config.shards + ": shard \"" + shard.name +
                               "\" needs hub_ingress and hub_pub endpoints (tcp:// or ipc://)");
    }
  }
  config.slotMap = std::make_shared<const SlotMap>(std::move(*map));
}

// Off loopback the hub speaks only CURVE (docs/architecture.md "Peer authentication"): without its
// key we could never connect, and without our own key pair (listed by the hub) it would refuse us,
// so say so now rather than time out on every request.
void checkCurve(const FrontendConfig& config) {
  const std::string serverKeySetting = config.shards.empty() ? "--hub-public-key" : "curve_server_key in --shards";
  bool anyCurve = false;
  for (const Shard& shard : config.slotMap->shards()) {
    anyCurve = anyCurve || !shard.curveServerKey.empty();
    if (!shard.curveServerKey.empty() && !isZ85Key(shard.curveServerKey)) {
      throw std::runtime_error("hub " + shard.name + ": the CURVE public key must be 40 Z85 characters");
    }
    for (const std::string* endpoint : {&shard.hubIngress, &shard.hubPub}) {
      if (!isLoopbackEndpoint(*endpoint) && shard.curveServerKey.empty()) {
        throw std::runtime_error("hub endpoint " + *endpoint + " is off loopback: give the hub's CURVE public key (" +
                                 serverKeySetting + ")");
      }
      if (!isLoopbackEndpoint(*endpoint) && config.curveSecretKeyFile.empty()) {
        throw std::runtime_error("hub endpoint " + *endpoint + " is off loopback: give this frontend's own CURVE key pair "
                                 "(--curve-secret-key-file, from webim-broadcast keygen; its public key goes in the "
                                 "hub's curve_frontend_clients)");
      }
    }
  }
  if (!config.curveSecretKeyFile.empty() && !anyCurve) {
    throw std::runtime_error("--curve-secret-key-file: no hub speaks CURVE (" + serverKeySetting + " is unset)");
  }
}

void validate(FrontendConfig& config) {
  if (!parseListenAddress(config.listen)) {
    throw std::runtime_error("--listen '" + config.listen + "' is not HOST:PORT (e.g. 0.0.0.0:8080 or [::]:8080)");
  }
  for (const std::string* endpoint : {&config.hubIngress, &config.hubPub}) {
    if (!isPeerEndpoint(*endpoint)) {
      throw std::runtime_error("hub endpoint '" + *endpoint + "' must be tcp://ADDRESS or ipc://PATH");
    }
  }
  if (config.secretFile.empty()) throw std::runtime_error("--secret-file is required");
  config.secrets = readSecrets(config.secretFile, 32);
  if (!config.apiKeyFile.empty()) config.apiKeys = readSecrets(config.apiKeyFile, 16);
  static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  if (kLevels.count(config.logLevel) == 0) {
    throw std::runtime_error("--log-level must be one of trace, debug, info, warn, error, critical, off");
  }
  if (!parseLogFormat(config.logFormat)) throw std::runtime_error("--log-format must be logfmt or json");
  validateLimits(config);
  if (std::string error = config.presence.parse(config.presenceNamespaces); !error.empty()) {
    throw std::runtime_error("--presence-namespaces: " + error);
  }
  config.trustedProxyRanges = TrustedProxies();
  for (const std::string& cidr : config.trustedProxies) {
    std::string error;
    if (!config.trustedProxyRanges.add(cidr, error)) throw std::runtime_error("--trusted-proxies: " + error);
  }
  if (config.instance < -1 || config.instance > kMaxInstance) {
    throw std::runtime_error("--instance must be 0.." + std::to_string(kMaxInstance));
  }
  if (config.id.empty()) {
    char host[256] = {};
    if (::gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') std::strcpy(host, "webim");
    config.id = defaultFrontendId(host, config.instance, ::getpid());
  }
  if (config.adminListen.empty()) config.adminListen = defaultAdminListen(config.instance);
  if (!parseListenAddress(config.adminListen)) {
    throw std::runtime_error("--admin-listen '" + config.adminListen + "' is not HOST:PORT (e.g. 127.0.0.1:9650)");
  }
  loadHubs(config);
  if (!config.curveSecretKeyFile.empty()) {
    std::string error = readCurveSecretKey(config.curveSecretKeyFile, "--curve-secret-key-file", config.curveSecretKey);
    if (!error.empty()) throw std::runtime_error(error);
  }
  checkCurve(config);
}

}  // namespace

std::string defaultFrontendId(const std::string& hostName, int64_t instance, long pid) {
  return hostName + "-" + (instance >= 0 ? std::to_string(instance) : "pid" + std::to_string(pid));
}

std::string defaultAdminListen(int64_t instance) {
  return "127.0.0.1:" + std::to_string(instance >= 0 ? kAdminPortBase + instance : 0);
}

ConfigOutcome loadFrontendConfig(int argc, char** argv, FrontendConfig& config) {
  CLI::App app{"webim-frontend: serves browsers over WebSocket and relays to the webim hub.\n"
               "Subcommand: webim-frontend token --help (issue a test token)."};
  app.set_version_flag("--version", "webim-frontend 0.1.0");
  ConfigBinder<FrontendConfig> binder(app, kSettings);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return {false, code == 0 ? 0 : 2};
  }
  try {
    if (std::string error = binder.apply(config); !error.empty()) throw std::runtime_error(error);
    validate(config);
  } catch (const std::exception& e) {
    std::cerr << "webim-frontend: bad configuration: " << e.what() << "\n";
    return {false, 2};
  }
  return {true, 0};
}

bool reloadFrontendConfig(int argc, char** argv, FrontendConfig& config, std::string& error) {
  CLI::App app;
  ConfigBinder<FrontendConfig> binder(app, kSettings);
  try {
    app.parse(argc, argv);
    if (error = binder.apply(config); !error.empty()) return false;
    validate(config);
  } catch (const std::exception& e) {
    error = e.what();
    return false;
  }
  return true;
}

int runTokenCommand(int argc, char** argv) {
  CLI::App app{"webim-frontend token: prints an HS256 token for testing (the PHP app issues real ones)"};
  std::string secretFile, user;
  std::vector<std::string> subscribe, publish, presence, watch;
  int64_t ttl = 3600;
  app.add_option("--secret-file", secretFile, "token secrets file (the first secret signs)")->required();
  app.add_option("--user", user, "user id (sub)")->required();
  app.add_option("--ch", subscribe, "channel pattern the user may subscribe to (repeatable)");
  app.add_option("--pub", publish, "channel pattern the user may publish to (default: --ch)");
  app.add_option("--presence", presence, "user id pattern whose presence `online` may ask (repeatable)");
  app.add_option("--watch", watch, "user id to watch: online/offline events (repeatable)");
  app.add_option("--ttl", ttl, "seconds until expiry")->default_str("3600");
  try {
    app.parse(argc - 1, argv + 1);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  try {
    if (!isValidUserId(user)) {
      throw std::runtime_error("--user must be 1.." + std::to_string(kMaxSubjectBytes) +
                               " bytes without control characters");
    }
    for (const std::string& w : watch) {
      if (!isValidUserId(w)) throw std::runtime_error("invalid --watch user id '" + w + "'");
    }
    if (watch.size() > kMaxWatchedUsers) throw std::runtime_error("more than 1000 --watch ids");
    for (const auto* patterns : {&subscribe, &publish, &presence}) {
      for (const std::string& p : *patterns) {
        if (!isValidGrantPattern(p)) {
          throw std::runtime_error("invalid pattern '" + p + "': a channel name, or a prefix of one followed by '*'");
        }
      }
    }
    std::vector<std::string> secrets = readSecrets(secretFile, 32);
    TokenClaims claims;
    claims.sub = user;
    int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    claims.iat = now;
    claims.exp = now + ttl;
    claims.subscribe = subscribe;
    claims.publish = publish.empty() ? subscribe : publish;
    claims.presence = presence;
    claims.watch = watch;
    std::cout << issueToken(claims, secrets.front()) << "\n";
  } catch (const std::exception& e) {
    std::cerr << "webim-frontend token: " << e.what() << "\n";
    return 2;
  }
  return 0;
}

}  // namespace webim
