// The hub's configuration: one struct with defaults, read from an optional TOML file
// (--config; keys are the flag names with '_' for '-') and then from flags (flags win),
// validated once at start. A bad configuration is one line on stderr and exit code 2.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "broadcast/peer_auth.h"
#include "broadcast/retention.h"
#include "broadcast/rocksdb_open.h"

#include "common/slot_map.h"

namespace webim::hub {

inline constexpr int kExitBadConfig = 2;

struct HubConfig {
  std::string appIngress = "tcp://127.0.0.1:5560";  // ROUTER, JSON (docs/protocol.md section 4)
  std::string hubIngress = "tcp://127.0.0.1:5561";  // ROUTER, protobuf FrontendRequest/HubReply
  std::string hubPub = "tcp://127.0.0.1:5562";      // XPUB, [channel '\0'][Delivery]
  // HOST:PORT where GET /metrics answers (metrics_server.h); port 0: a free one (logged); "":
  // none. The example config (deploy/webim-broadcast.toml) sets 127.0.0.1:9640.
  std::string metricsListen = "127.0.0.1:0";
  std::string store = "rocksdb";                    // rocksdb (embedded, --data) | postgres (--pg-dsn)
  std::string data = "./var/hub";                   // RocksDB directory
  // RocksDB I/O (docs/durability.md "Disk layout"; rocksdb_open.h): the WAL's own directory ("" =
  // in `data`), a cap on flush + compaction writes in bytes/s (0 = none), and writeback every
  // this many bytes of SST files / WAL (0 = only at the file's fsync).
  std::string walDir;
  int64_t ioRateLimit = 0;
  int64_t bytesPerSync = 1 << 20;
  int64_t walBytesPerSync = 1 << 20;
  std::string pgDsn;                                // libpq connection string, for store = postgres
  bool pgPipeline = false;                          // the pipelined commit on PostgreSQL (postgres_store.h)
  std::string logLevel = "info";
  std::string logFormat = "logfmt";  // logfmt | json (common/log_line.h)
  bool sync = true;               // fsync every group commit before acking
  int64_t dedupTtl = 86400;       // seconds a (from, cid) pair is remembered (>= 24 h by contract)
  int64_t maxBatch = 1024;        // requests per loop iteration (= per group commit)
  int64_t maxDataBytes = 65536;   // largest `data` of one publish (too_large beyond)
  int64_t frontendTimeout = 30;   // seconds without a hello before a frontend counts as gone
  // Presence settling after a start (broadcast/presence_settling.h): the window in which running
  // frontends are expected to say hello (> their heartbeat_ms), and its bound.
  int64_t presenceSettleMs = 5000;
  int64_t presenceSettleMaxMs = 30000;
  // The watchlist: a watched user who goes offline is told after this long, unless back by then.
  int64_t presenceGraceMs = 5000;
  // Seconds a kick keeps revoking the user's older tokens and sids (>= the frontends'
  // max_token_lifetime: an older token has expired anyway).
  int64_t revocationTtl = 604800;
  // Seconds after which a channel nobody published to or asked about leaves the hub's memory (read
  // from the store again when used).
  int64_t channelIdleTimeout = 600;
  // XPUB send HWM, in messages per subscriber pipe. Large on purpose: a frontend that stalls for
  // a moment (burst, GC-like pause) should not lose messages to the HWM; what is dropped beyond it
  // is refilled from history by the frontend's gap detection. Memory bound: HWM x message size per
  // frontend, so keep maxDataBytes modest.
  int64_t pubHwm = 1000000;
  int64_t ingressHwm = 100000;    // ROUTER send/receive HWM per peer
  // Every this many ms the hub publishes sync{epoch,last} on each channel written since the last
  // time, so a frontend that lost the last message of a burst (and the channel then went quiet)
  // notices the hole and fills it from history.
  int64_t syncIntervalMs = 2000;
  // Shards (docs/protocol.md section 6): the shared JSON shard table and which of its shards this hub
  // is. Both empty: one hub owns every channel. Channels of other shards get `wrong_shard`.
  std::string shards;
  std::string shard;
  std::shared_ptr<const SlotMap> slotMap;  // derived from `shards` at start
  // CURVE (docs/architecture.md "Peer authentication"): the file holding this hub's secret key
  // (Z85, from `webim-broadcast keygen`). Required when any endpoint binds off loopback; then all
  // three sockets speak CURVE and clients need the matching public key.
  std::string curveSecretKeyFile;
  std::string curveSecretKey;  // derived: the file's key
  // Who may connect (docs/architecture.md "Peer authentication"): files of CURVE public keys, one
  // per line (peer_auth.h). With CURVE the hub admits on hub_ingress and hub_pub only the keys listed
  // in curveFrontendClients, on app_ingress only those in curveAppClients (ZAP, zap_server.h).
  // A socket off loopback needs its list; one on loopback without it admits any CURVE client.
  // Reread on SIGHUP.
  std::string curveFrontendClients;
  std::string curveAppClients;
  PeerLists peerLists;  // derived: the files' keys
  // ipc:// endpoints: the socket files are created mode 0600, for the hub's user only (the
  // frontends run as that user). The app ingress's may instead belong to this group, mode 0660,
  // for an app running as another user (the hub's user must be a member of the group).
  std::string appIngressGroup;
  uint32_t appIngressGid = 0;  // derived
  size_t shardIndex = 0;
  // History retention rules "PATTERN=COUNT/AGE" (syntax in broadcast/retention.h); [] keeps
  // everything. Applied in small slices between batches; a full pass starts every
  // retentionInterval seconds.
  std::vector<std::string> retention = defaultRetentionRules();
  int64_t retentionInterval = 60;
  // Namespaces delivered `fast` (delivery_mode.h, docs/durability.md "Delivery modes"): their
  // messages are published once written, before the sync their acks wait for. [] = all durable.
  std::vector<std::string> fastNamespaces;
  // Namespaces whose read receipts go to the channel's subscribers (docs/protocol.md "Read cursors
  // and receipts"); dm: channels always have them. [] = none.
  std::vector<std::string> receiptNamespaces;
  // Channel presence (docs/architecture.md "Channel presence"): the namespaces whose channels say
  // who is here (e.g. room, dm; [] = none), the members listed per channel, the grace of a leave.
  std::vector<std::string> presenceNamespaces;
  int64_t presenceMaxMembers = 1000;
};

struct RequestOptions {  // `webim-broadcast request`
  std::string appIngress;
  int64_t timeoutMs = 3000;
  std::string json;
  std::string serverKey;  // the hub's CURVE public key, when it speaks CURVE
  std::string curveSecretKeyFile;  // this client's own key pair (else a throwaway one)
  std::string curveSecretKey;      // derived: the file's key
};

struct KeygenOptions {  // `webim-broadcast keygen`
  std::string out;  // PREFIX: writes PREFIX.key (secret, mode 0600) and PREFIX.pub; empty: print both
};

struct CommandLine {
  enum class Mode { Serve, Request, Keygen, Exit } mode = Mode::Exit;
  int exitCode = 0;  // for Mode::Exit (help: 0, bad flags or config: 2)
  HubConfig config;
  RequestOptions request;
  KeygenOptions keygen;
};

// Parses flags, reads --config, validates. Prints help / the error itself for Mode::Exit.
CommandLine parseCommandLine(int argc, char** argv);

std::string validateConfig(const HubConfig& config);
// The RocksDB store's I/O options of `config` (set process-wide by parseCommandLine for Serve).
rocks::IoOptions rocksIoOptions(const HubConfig& config);
// Reads the allow-list files of `config` (at start, and again on SIGHUP): "" on success.
std::string loadPeerLists(const HubConfig& config, PeerLists& lists);
// Endpoints any local user can reach (tcp:// on loopback, abstract ipc://@ sockets) without an
// allow-list guarding them: one warning line each, logged at start.
std::vector<std::string> peerAuthWarnings(const HubConfig& config);

}  // namespace webim::hub
