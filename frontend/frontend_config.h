// The frontend's configuration: one struct with defaults, read from a TOML file (--config) and
// overridden by flags, validated once at start (docs/architecture.md, house style 6). The keys and
// flags are bound by common/program/config_binder.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/presence_namespaces.h"
#include "common/slot_map.h"
#include "frontend/connection_limits.h"

namespace webim {

struct FrontendConfig {
  // Where browsers connect. Several processes may listen on the same port (SO_REUSEPORT).
  std::string listen = "0.0.0.0:8080";
  // The hub's frontend ingress (ROUTER, we connect a DEALER) and its publish socket (XPUB, we SUB).
  std::string hubIngress = "tcp://127.0.0.1:5561";
  std::string hubPub = "tcp://127.0.0.1:5562";
  // Several hubs (shards): the shared JSON shard table (docs/protocol.md section 6); its shards'
  // hub_ingress/hub_pub replace the two endpoints above, and channels are routed by slot.
  std::string shards;
  // The hub's CURVE public key (Z85; `webim-broadcast keygen`), required when it is off loopback.
  // With --shards, each shard's "curve_server_key" is used instead.
  std::string hubPublicKey;
  // This frontend's own CURVE key pair: the file of its secret key (`webim-broadcast keygen`),
  // whose public key is listed in every hub's curve_frontend_clients. Required when a hub is off
  // loopback; unset, a frontend talking CURVE uses a throwaway key pair (admitted only by a hub
  // without that allow-list).
  std::string curveSecretKeyFile;
  // Token secrets, one per line (several lines = rotation); each at least 32 bytes.
  std::string secretFile;
  // HTTP API keys (POST /api/...), one per line; empty = the HTTP API is off.
  std::string apiKeyFile;
  // This frontend's id, unique among the frontends of one deployment (default: "<host name>-<instance>",
  // or "<host name>-pid<pid>" without an instance).
  std::string id;
  // This process's number on its host (the systemd unit's %i, 0..kMaxInstance; -1: none): names
  // the default id and the default private port.
  int64_t instance = -1;
  // The private listener: /metrics, /healthz, /readyz and /api of this process (admin_listener.h).
  // Default: 127.0.0.1:<kAdminPortBase + instance>, or 127.0.0.1:0 (a free port, logged) without
  // an instance.
  std::string adminListen;
  // Also serve /metrics and /api on the public listener (off: they are private).
  bool publicAdmin = false;
  // Static file mounts: "DIR" (served at /) or "/prefix/=DIR" (served under /prefix/); e.g. the
  // demo page at / and the JS client at /js/. Files are read once at start.
  std::vector<std::string> staticDirs;
  std::string logLevel = "info";
  std::string logFormat = "logfmt";  // logfmt | json (common/log_line.h)

  uint32_t handshakeTimeoutMs = 10'000;
  uint32_t authTimeoutMs = 10'000;
  uint32_t hubTimeoutMs = 5'000;
  uint32_t closeTimeoutMs = 2'000;  // how long a closing connection waits for the peer's close
  // SIGTERM: the connections are sent away (1012) spread over this long, then the process exits.
  uint32_t drainWindowMs = 10'000;
  uint32_t heartbeatMs = 2'000;     // hello to the hub
  uint32_t pingIntervalMs = 30'000;  // a connection silent this long gets a ping...
  uint32_t pongTimeoutMs = 10'000;   // ...and is dropped if nothing arrives this long after it
  uint32_t writeTimeoutMs = 10'000;  // a write that cannot complete this long closes the connection
  uint32_t rateLimit = 20;           // requests per second per connection (token bucket), 4008 beyond
  uint32_t rateBurst = 40;           // bucket size
  uint32_t maxForbidden = 10;        // denied requests per connection before it is closed 4003 (<= 255)
  uint32_t maxSubscriptions = 1000;  // channels one connection may subscribe to (too_large beyond)
  uint32_t maxFragments = 1024;      // frames per message (1009 beyond)
  uint32_t recoveryMaxMessages = 500;      // sub with `since`: recover at most this many...
  uint32_t recoveryMaxBytes = 1024 * 1024;  // ...or bytes, else recovered:false (docs/protocol.md)
  uint32_t pollTimeoutMs = 25'000;   // HTTP fallback long-poll: answer [] after this long
  uint32_t sseKeepaliveMs = 15'000;  // HTTP fallback SSE: a comment line this often (proxies, dead peers)
  uint32_t maxMessageBytes = 64 * 1024;
  uint32_t maxSignalBytes = 4096;  // `data` of a signal (too_large beyond)
  bool subReadCursors = true;      // sub replies carry `read` / `peer_read` (read_sub_cursors.h)
  uint32_t maxConnections = 1'000'000;
  uint32_t maxConnectionsPerUser = 32;    // authenticated WebSockets and event streams of one user (4029 / 429 beyond)
  uint32_t maxConnectionsPerAddress = 0;  // /ws, /events, /session, /cmd per client address; 0 = no cap
  // Proxies (IP or CIDR) whose X-Forwarded-For names the client address (the per-address cap).
  std::vector<std::string> trustedProxies;
  uint64_t maxBacklogBytes = 1024 * 1024;  // per connection; beyond it the client is closed 4009
  // Seconds: a token (or sid) whose exp lies further ahead than this (+ the 30 s leeway) is refused.
  uint32_t maxTokenLifetime = 7 * 86400;
  std::vector<std::string> allowedOrigins;
  bool allowMissingOrigin = true;
  bool allowAnyOrigin = false;
  // Channel presence: the namespaces whose subscribers this frontend reports to the hubs, and
  // where presence/presence_stats are taken (the hubs' presence_namespaces must match).
  std::vector<std::string> presenceNamespaces;

  // Derived by validation.
  PresenceNamespaces presence;  // from presenceNamespaces
  std::vector<std::string> secrets;
  std::vector<std::string> apiKeys;
  std::string curveSecretKey;  // from curveSecretKeyFile (Z85)
  std::shared_ptr<const SlotMap> slotMap;  // the hubs: from --shards, or one from the two endpoints
  TrustedProxies trustedProxyRanges;       // from trustedProxies
};

inline constexpr int64_t kMaxInstance = 1023;
inline constexpr int64_t kAdminPortBase = 9650;  // frontend instance N: 127.0.0.1:9650+N

// The defaults that depend on the host: "<hostName>-<instance>" ("<hostName>-pid<pid>" without
// one) and the private listener's address.
std::string defaultFrontendId(const std::string& hostName, int64_t instance, long pid);
std::string defaultAdminListen(int64_t instance);

struct ConfigOutcome {
  bool run = false;   // false: exit with exitCode (help printed, or an error reported)
  int exitCode = 0;
};

// Parses flags and the optional TOML file into `config`; prints --help or one clear error line.
ConfigOutcome loadFrontendConfig(int argc, char** argv, FrontendConfig& config);

// For a reload (SIGHUP): the same parse and checks on the same arguments, into a fresh `config`;
// false and `error` set when the files or the configuration are not usable now. Prints nothing.
bool reloadFrontendConfig(int argc, char** argv, FrontendConfig& config, std::string& error);

// `webim-frontend token ...`: prints a signed test token (for scripts/run and tests).
int runTokenCommand(int argc, char** argv);

}  // namespace webim
