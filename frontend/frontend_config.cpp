#include "frontend/frontend_config.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <toml++/toml.h>
#include <zmq.h>

#include "common/token.h"
#include "common/endpoint.h"
#include "frontend/listen_address.h"

namespace webim {
namespace {

// Binds each setting once to a flag (--hub-ingress) and a TOML key (hub_ingress), so the two
// can never drift apart. File values are applied first, then the flags that were given.
class ConfigBinder {
 public:
  ConfigBinder(CLI::App& app, FrontendConfig& config) : app_(app), config_(config) {}

  template <class T>
  void bind(const std::string& flag, T FrontendConfig::*member, const std::string& help) {
    std::string key = flag.substr(2);
    for (char& c : key) {
      if (c == '-') c = '_';
    }
    CLI::Option* option = app_.add_option(flag, flags_.*member, help);
    if constexpr (!std::is_same_v<T, std::vector<std::string>>) {
      std::ostringstream def;
      if constexpr (std::is_same_v<T, bool>) {
        def << ((config_.*member) ? "true" : "false");
      } else {
        def << config_.*member;
      }
      option->default_str(def.str());
    }
    keys_.insert(key);
    fromFile_.push_back([this, key, member](const toml::table& table) {
      const toml::node* node = table.get(key);
      if (node == nullptr) return;
      if (!readNode(*node, config_.*member)) {
        throw std::runtime_error("config key '" + key + "' has the wrong type");
      }
    });
    fromFlags_.push_back([this, option, member] {
      if (option->count() > 0) config_.*member = flags_.*member;
    });
  }

  void applyFile(const std::string& path) {
    toml::table table;
    try {
      table = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
      std::ostringstream msg;
      msg << path << ": " << e.description() << " (line " << e.source().begin.line << ")";
      throw std::runtime_error(msg.str());
    }
    for (const auto& [key, value] : table) {
      (void)value;
      if (keys_.count(std::string(key.str())) == 0) {
        throw std::runtime_error(path + ": unknown config key '" + std::string(key.str()) + "'");
      }
    }
    for (auto& apply : fromFile_) apply(table);
  }

  void applyFlags() {
    for (auto& apply : fromFlags_) apply();
  }

 private:
  static bool readNode(const toml::node& node, std::string& out) {
    if (auto v = node.value<std::string>()) {
      out = *v;
      return true;
    }
    return false;
  }
  static bool readNode(const toml::node& node, bool& out) {
    if (auto v = node.value<bool>()) {
      out = *v;
      return true;
    }
    return false;
  }
  template <class Int>
    requires std::is_integral_v<Int>
  static bool readNode(const toml::node& node, Int& out) {
    auto v = node.value<int64_t>();
    if (!v || *v < 0 || static_cast<uint64_t>(*v) > std::numeric_limits<Int>::max()) return false;
    out = static_cast<Int>(*v);
    return true;
  }
  static bool readNode(const toml::node& node, std::vector<std::string>& out) {
    const toml::array* array = node.as_array();
    if (array == nullptr) return false;
    out.clear();
    for (const toml::node& item : *array) {
      auto v = item.value<std::string>();
      if (!v) return false;
      out.push_back(*v);
    }
    return true;
  }

  CLI::App& app_;
  FrontendConfig& config_;
  FrontendConfig flags_;
  std::set<std::string> keys_;
  std::vector<std::function<void(const toml::table&)>> fromFile_;
  std::vector<std::function<void()>> fromFlags_;
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

bool validZmqEndpoint(const std::string& endpoint) {
  return endpoint.rfind("tcp://", 0) == 0 || endpoint.rfind("ipc://", 0) == 0 ||
         endpoint.rfind("inproc://", 0) == 0;
}

void validate(FrontendConfig& config) {
  if (!parseListenAddress(config.listen)) {
    throw std::runtime_error("--listen '" + config.listen + "' is not HOST:PORT (e.g. 0.0.0.0:8080 or [::]:8080)");
  }
  for (const std::string* endpoint : {&config.hubIngress, &config.hubPub}) {
    if (!validZmqEndpoint(*endpoint)) {
      throw std::runtime_error("hub endpoint '" + *endpoint + "' must start with tcp://, ipc:// or inproc://");
    }
  }
  if (config.secretFile.empty()) throw std::runtime_error("--secret-file is required");
  config.secrets = readSecrets(config.secretFile, 32);
  if (!config.apiKeyFile.empty()) config.apiKeys = readSecrets(config.apiKeyFile, 16);
  static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  if (kLevels.count(config.logLevel) == 0) {
    throw std::runtime_error("--log-level must be one of trace, debug, info, warn, error, critical, off");
  }
  for (uint32_t* ms : {&config.handshakeTimeoutMs, &config.authTimeoutMs, &config.hubTimeoutMs,
                       &config.closeTimeoutMs, &config.heartbeatMs, &config.pingIntervalMs,
                       &config.pongTimeoutMs, &config.writeTimeoutMs, &config.pollTimeoutMs,
                       &config.sseKeepaliveMs}) {
    if (*ms == 0) throw std::runtime_error("timeouts must be positive");
  }
  if (config.maxMessageBytes < 1024) throw std::runtime_error("--max-message-bytes must be at least 1024");
  if (config.maxBacklogBytes < config.maxMessageBytes) {
    throw std::runtime_error("--max-backlog-bytes must be at least --max-message-bytes");
  }
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
  config.trustedProxyRanges = TrustedProxies();
  for (const std::string& cidr : config.trustedProxies) {
    std::string error;
    if (!config.trustedProxyRanges.add(cidr, error)) throw std::runtime_error("--trusted-proxies: " + error);
  }
  if (config.maxTokenLifetime == 0 || config.maxTokenLifetime > kMaxTokenLifetimeLimit) {
    throw std::runtime_error("--max-token-lifetime must be 1.." + std::to_string(kMaxTokenLifetimeLimit) +
                             " seconds (10 years)");
  }
  if (config.maxSubscriptions == 0 || config.maxSubscriptions > 65535) {
    throw std::runtime_error("--max-subscriptions must be 1..65535");
  }
  if (config.id.empty()) config.id = "fe-" + std::to_string(::getpid());
  if (config.shards.empty()) {
    config.slotMap = std::make_shared<const SlotMap>(
        SlotMap::single({"hub", "", config.hubIngress, config.hubPub, config.hubPublicKey}));
  } else {
    std::ifstream in(config.shards);
    if (!in) throw std::runtime_error("--shards: cannot read '" + config.shards + "'");
    std::stringstream text;
    text << in.rdbuf();
    std::string error;
    std::optional<SlotMap> map = SlotMap::parse(text.str(), error);
    if (!map) throw std::runtime_error("--shards " + config.shards + ": " + error);
    for (const Shard& shard : map->shards()) {
      if (!validZmqEndpoint(shard.hubIngress) || !validZmqEndpoint(shard.hubPub)) {
        throw std::runtime_error("--shards " + config.shards + ": shard \"" + shard.name +
                                 "\" needs hub_ingress and hub_pub endpoints (tcp:// or ipc://)");
      }
    }
    config.slotMap = std::make_shared<const SlotMap>(std::move(*map));
  }
  bool anyCurve = false;
  if (!config.curveSecretKeyFile.empty()) {
    std::ifstream in(config.curveSecretKeyFile);
    if (!in) throw std::runtime_error("--curve-secret-key-file: cannot read '" + config.curveSecretKeyFile + "'");
    std::string key;
    std::getline(in, key);
    while (!key.empty() && (key.back() == '\r' || key.back() == ' ')) key.pop_back();
    char publicKey[41];
    if (!isZ85Key(key) || zmq_curve_public(publicKey, key.c_str()) != 0) {
      throw std::runtime_error("--curve-secret-key-file: '" + config.curveSecretKeyFile +
                               "' must hold a 40-character Z85 secret key (webim-broadcast keygen)");
    }
    config.curveSecretKey = key;
    config.curvePublicKey = publicKey;
  }
  // Off loopback the hub speaks only CURVE (docs/protocol.md section 4): without its key we could
  // never connect, and without our own key pair (listed by the hub) it would refuse us, so say so
  // now rather than time out on every request.
  for (const Shard& shard : config.slotMap->shards()) {
    anyCurve = anyCurve || !shard.curveServerKey.empty();
    if (!shard.curveServerKey.empty() && !isZ85Key(shard.curveServerKey)) {
      throw std::runtime_error("hub " + shard.name + ": the CURVE public key must be 40 Z85 characters");
    }
    for (const std::string* endpoint : {&shard.hubIngress, &shard.hubPub}) {
      if (!isLoopbackEndpoint(*endpoint) && shard.curveServerKey.empty()) {
        throw std::runtime_error("hub endpoint " + *endpoint + " is off loopback: give the hub's CURVE public key (" +
                                 std::string(config.shards.empty() ? "--hub-public-key" : "curve_server_key in --shards") + ")");
      }
      if (!isLoopbackEndpoint(*endpoint) && config.curveSecretKeyFile.empty()) {
        throw std::runtime_error("hub endpoint " + *endpoint + " is off loopback: give this frontend's own CURVE key pair "
                                 "(--curve-secret-key-file, from webim-broadcast keygen; its public key goes in the "
                                 "hub's curve_frontend_clients)");
      }
    }
  }
  if (!config.curveSecretKeyFile.empty() && !anyCurve) {
    throw std::runtime_error(std::string("--curve-secret-key-file: no hub speaks CURVE (") +
                             (config.shards.empty() ? "--hub-public-key" : "curve_server_key in --shards") + " is unset)");
  }
}

}  // namespace

ConfigOutcome loadFrontendConfig(int argc, char** argv, FrontendConfig& config) {
  CLI::App app{"webim-frontend: serves browsers over WebSocket and relays to the webim hub.\n"
               "Subcommand: webim-frontend token --help (issue a test token)."};
  app.set_version_flag("--version", "webim-frontend 0.1.0");
  std::string configFile;
  app.add_option("--config", configFile, "TOML file; keys are the flag names with '_' (flags win)");
  ConfigBinder binder(app, config);
  binder.bind("--listen", &FrontendConfig::listen, "HOST:PORT to accept browsers on (SO_REUSEPORT)");
  binder.bind("--hub-ingress", &FrontendConfig::hubIngress, "hub's frontend ingress endpoint");
  binder.bind("--hub-pub", &FrontendConfig::hubPub, "hub's publish endpoint");
  binder.bind("--hub-public-key", &FrontendConfig::hubPublicKey, "the hub's CURVE public key (Z85), off loopback");
  binder.bind("--curve-secret-key-file", &FrontendConfig::curveSecretKeyFile,
              "this frontend's CURVE secret key (webim-broadcast keygen; its public key in the hubs' curve_frontend_clients)");
  binder.bind("--shards", &FrontendConfig::shards, "shard table (JSON): connect to every hub, route by slot");
  binder.bind("--secret-file", &FrontendConfig::secretFile, "token secrets, one per line (>= 32 bytes each)");
  binder.bind("--api-key-file", &FrontendConfig::apiKeyFile, "HTTP API keys, one per line (>= 16 bytes); off if unset");
  binder.bind("--id", &FrontendConfig::id, "this frontend's id (default fe-<pid>)");
  binder.bind("--static-dir", &FrontendConfig::staticDirs, "serve files: DIR (at /) or /prefix/=DIR; repeatable");
  binder.bind("--log-level", &FrontendConfig::logLevel, "trace|debug|info|warn|error|critical|off");
  binder.bind("--handshake-timeout-ms", &FrontendConfig::handshakeTimeoutMs, "HTTP head must arrive within");
  binder.bind("--auth-timeout-ms", &FrontendConfig::authTimeoutMs, "first frame must be auth within");
  binder.bind("--hub-timeout-ms", &FrontendConfig::hubTimeoutMs, "hub request deadline (then 'unavailable')");
  binder.bind("--close-timeout-ms", &FrontendConfig::closeTimeoutMs, "wait for the peer's close this long");
  binder.bind("--heartbeat-ms", &FrontendConfig::heartbeatMs, "hello to the hub every");
  binder.bind("--ping-interval-ms", &FrontendConfig::pingIntervalMs, "ping a connection silent this long");
  binder.bind("--pong-timeout-ms", &FrontendConfig::pongTimeoutMs, "drop it if nothing arrives this long after a ping");
  binder.bind("--write-timeout-ms", &FrontendConfig::writeTimeoutMs, "a write stalled this long closes the connection");
  binder.bind("--rate-limit", &FrontendConfig::rateLimit, "requests per second per connection (4008 beyond)");
  binder.bind("--rate-burst", &FrontendConfig::rateBurst, "request burst per connection");
  binder.bind("--max-forbidden", &FrontendConfig::maxForbidden, "denied requests before closing 4003");
  binder.bind("--max-subscriptions", &FrontendConfig::maxSubscriptions, "channels per connection (too_large beyond; <= 65535)");
  binder.bind("--max-fragments", &FrontendConfig::maxFragments, "frames per message (1009 beyond)");
  binder.bind("--recovery-max-messages", &FrontendConfig::recoveryMaxMessages, "sub with since: recover at most");
  binder.bind("--recovery-max-bytes", &FrontendConfig::recoveryMaxBytes, "sub with since: recover at most (bytes)");
  binder.bind("--poll-timeout-ms", &FrontendConfig::pollTimeoutMs, "HTTP fallback long-poll answers [] after");
  binder.bind("--sse-keepalive-ms", &FrontendConfig::sseKeepaliveMs, "HTTP fallback SSE comment line every");
  binder.bind("--max-message-bytes", &FrontendConfig::maxMessageBytes, "largest client message (1009 beyond)");
  binder.bind("--max-connections", &FrontendConfig::maxConnections, "connections held by this process");
  binder.bind("--max-connections-per-user", &FrontendConfig::maxConnectionsPerUser,
              "WebSockets and event streams per user (4029 / HTTP 429 beyond)");
  binder.bind("--max-connections-per-address", &FrontendConfig::maxConnectionsPerAddress,
              "browser connections per client address (HTTP 429 beyond); 0: no cap");
  binder.bind("--trusted-proxies", &FrontendConfig::trustedProxies,
              "proxies (IP or CIDR) whose X-Forwarded-For gives the client address");
  binder.bind("--max-backlog-bytes", &FrontendConfig::maxBacklogBytes, "unsent bytes per connection (4009 beyond)");
  binder.bind("--max-token-lifetime", &FrontendConfig::maxTokenLifetime,
              "seconds: refuse tokens whose exp lies further ahead (4001 / 401)");
  binder.bind("--allowed-origins", &FrontendConfig::allowedOrigins, "extra allowed Origins (scheme://host[:port])");
  binder.bind("--allow-missing-origin", &FrontendConfig::allowMissingOrigin, "accept handshakes without Origin");
  binder.bind("--allow-any-origin", &FrontendConfig::allowAnyOrigin, "accept every Origin");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return {false, code == 0 ? 0 : 2};
  }
  try {
    if (!configFile.empty()) binder.applyFile(configFile);
    binder.applyFlags();
    validate(config);
  } catch (const std::exception& e) {
    std::cerr << "webim-frontend: bad configuration: " << e.what() << "\n";
    return {false, 2};
  }
  return {true, 0};
}

int runTokenCommand(int argc, char** argv) {
  CLI::App app{"webim-frontend token: prints an HS256 token for testing (the PHP app issues real ones)"};
  std::string secretFile, user;
  std::vector<std::string> subscribe, publish;
  int64_t ttl = 3600;
  app.add_option("--secret-file", secretFile, "token secrets file (the first secret signs)")->required();
  app.add_option("--user", user, "user id (sub)")->required();
  app.add_option("--ch", subscribe, "channel pattern the user may subscribe to (repeatable)");
  app.add_option("--pub", publish, "channel pattern the user may publish to (default: --ch)");
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
    for (const auto* patterns : {&subscribe, &publish}) {
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
    std::cout << issueToken(claims, secrets.front()) << "\n";
  } catch (const std::exception& e) {
    std::cerr << "webim-frontend token: " << e.what() << "\n";
    return 2;
  }
  return 0;
}

}  // namespace webim
