// webim-bench: a load generator for webim (and any server speaking docs/protocol.md section 1).
//
// One coordinator process forks W worker processes (each under the 20,000-file limit). Workers run
// one libuv loop each and own a contiguous slice of connection indices. The coordinator and the
// workers share one anonymous mapping: the coordinator writes commands there, workers publish
// counters and latency histograms there; the coordinator samples server RSS/CPU and kernel slab
// memory, draws the progress line and writes the JSON result and the plot.
//
// Per connection the generator keeps one compact struct (uv_tcp_t + ~48 bytes) and 12 bytes per
// channel (the last epoch and seq seen); reads go through one shared buffer per worker and only an
// incomplete frame is copied aside.
//
// Modes:
//   idle    N connections, each authenticated as its own user, subscribed to its inbox and one
//           room of M members (and optionally --also-sub CH); server bytes/connection; --cycles
//           connect/drop cycles; optional --broadcast-cmd run once all are ready (time to 50/99/100%).
//   fanout  like idle, then the first member of each room publishes, R publishes/s in total, for
//           --duration s; deliveries/s, latency percentiles, drops, gaps, server CPU.
//   churn   like idle, then --churn-rate connections/s are closed and reconnected for --duration s.
//   hold    like idle, then hold the connections for --duration s (or until SIGINT/SIGTERM); a
//           connection closed for any reason reconnects with jittered backoff (~100 ms growing to
//           2 s), authenticates again and re-subscribes each channel with `since` = the last
//           (epoch, seq) it saw there.
//
// Channels of connection i (user --user-base + i): its inbox user:<user>, one room in each of
// --rooms partitions (partition 0: room:<run>-<i / M>; partition k > 0: room:<run>-p<k>-<pos / M>
// with pos = i * stride_k mod N, a different grouping per partition), and --also-sub CH.
//
// Counted on the wire in every mode, before any de-duplication (the --report snapshot): per
// (connection, channel) the last (epoch, seq), kept across reconnects; a msg with the same epoch
// and seq <= last is a duplicate, seq > last + 1 a gap of the missing count, another epoch an epoch
// change; resync frames, sub replies with recovered:false and err replies by code; close codes,
// reconnects and the time from a close to being subscribed again.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <functional>
#include <numeric>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "common/big_endian.h"

namespace {

// ---------------------------------------------------------------------------------------------
// Options

struct Options {
  std::string mode = "idle";
  std::vector<sockaddr_in> targets;
  std::string path = "/ws";
  uint32_t connections = 1000;
  uint32_t roomSize = 100;  // 0: no room
  uint32_t rooms = 1;       // room partitions: each connection is in one room of each
  uint32_t userBase = 0;    // connection i authenticates as user userBase + i
  bool inbox = true;
  std::string alsoSub;      // extra channel every connection subscribes to (the data channel then)
  uint32_t workers = 0;     // 0: ceil(N / 18000)
  uint32_t sources = 0;     // source addresses 127.1.0.1 + k; 0: ceil(N / 5000)
  double rate = 5000;       // connects per second (total)
  uint32_t maxPending = 0;  // connects in flight per worker (0: 512)
  double hold = 0;
  uint32_t cycles = 1;
  double settle = 2;        // seconds after dropping all before RSS is sampled
  std::string secretFile;
  std::vector<int> serverPids;
  std::string serverName = "webim-frontend";
  int hubPid = -1;          // -1: find webim-broadcast by name (only when --server-pids is absent)
  std::string out;
  std::string plot;
  double pubRate = 1000;
  double duration = 10;
  uint32_t payloadBytes = 0;
  bool signals = false;  // fanout: signals (not stored, no seq) instead of publishes
  double churnRate = 100;
  std::string broadcastCmd;
  double timeout = 0;       // ramp timeout; 0: derived
  double minAvailMb = 1500; // stop the ramp when MemAvailable drops below this
  std::string label;
  std::string runId;
  std::string report;       // JSON snapshot rewritten every 250 ms
  std::string readyList;    // hold: user ids of the subscribed connections, written once ready
  bool quiet = false;
};

[[noreturn]] void die(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "webim-bench: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(2);
}

void usage() {
  fprintf(stderr,
          "usage: webim-bench MODE [options]      MODE: idle | fanout | churn | hold\n"
          "  idle: connect, authenticate, subscribe (inbox, rooms, --also-sub); measure bytes/connection\n"
          "  fanout: then room members publish --pub-rate/s for --duration s; latency, drops, gaps\n"
          "  churn: then --churn-rate connections/s are closed and reconnected for --duration s\n"
          "  hold: then keep them --duration s or until SIGINT/SIGTERM; a closed connection reconnects\n"
          "        (backoff 50-150 ms doubling to 2 s) and re-subscribes each channel with since\n"
          "  every mode counts msg/resync/err frames per (connection, channel) on the wire: --report\n"
          "  --target HOST:PORT        server (repeatable, or comma-separated); connections round-robin\n"
          "  --path /ws                WebSocket path\n"
          "  --connections N           connections (default 1000)\n"
          "  --room-size M             members per room (default 100; 0: no room)\n"
          "  --rooms K                 rooms per connection, one in each of K partitions grouped\n"
          "                            differently (default 1)\n"
          "  --user-base B             connection i authenticates as user B+i (default 0)\n"
          "  --run-id ID               room names room:ID-<r>, room:ID-p<k>-<r> (default b<pid>)\n"
          "  --no-inbox                do not subscribe user:<id>\n"
          "  --also-sub CH             every connection also subscribes CH (then the data channel)\n"
          "  --workers W               worker processes (default ceil(N/18000))\n"
          "  --sources K               source addresses 127.1.0.1.. (default ceil(N/5000))\n"
          "  --rate R                  connects per second, total (default 5000)\n"
          "  --max-pending P           connects in flight per worker (default 512)\n"
          "  --secret-file F           token secret (first line signs, HS256)\n"
          "  --server-pids P,P         server pids (default: processes named --server-name)\n"
          "  --server-name NAME        default webim-frontend\n"
          "  --hub-pid P               hub pid, counted in CPU/RSS (default: webim-broadcast by name)\n"
          "  --hold S                  idle: hold the connections S seconds (not the hold mode)\n"
          "  --cycles K                idle: K connect-all/drop-all cycles (RSS after each)\n"
          "  --settle S                seconds after a drop before RSS is sampled (default 2)\n"
          "  --broadcast-cmd CMD       idle/hold: run CMD (sh -c; @T@ -> CLOCK_MONOTONIC ns) once all are ready\n"
          "  --pub-rate R              fanout: publishes per second, total (default 1000)\n"
          "  --duration S              fanout/churn/hold: seconds (default 10)\n"
          "  --payload-bytes B         fanout: pad each message's data by B bytes\n"
          "  --signals                 fanout: send signals (ephemeral: no seq, not stored) instead of publishes\n"
          "  --churn-rate R            churn: reconnects per second (default 100)\n"
          "  --timeout S               give up the ramp after S seconds (default derived)\n"
          "  --min-avail-mb MB         stop the ramp when MemAvailable < MB (default 1500)\n"
          "  --out FILE.json           result; --plot FILE.png (gnuplot); --label TEXT\n"
          "  --report FILE.json        rewrite FILE every 250 ms with a snapshot of the wire counts\n"
          "                            (written to FILE.tmp, then renamed)\n"
          "  --ready-list FILE         hold: once the ramp (and --broadcast-cmd) is done, the user ids\n"
          "                            of the subscribed connections, one per line\n"
          "  --quiet                   no progress line\n"
          "signals: SIGUSR1 stops the ramp (results for what is held); SIGINT/SIGTERM stop early, twice: exit\n"
          "exit: 0 ok; 1 drops/gaps (fanout), a broadcast not reaching all, RSS cycles off; 2 usage;\n"
          "      3 not all connections became ready in the ramp\n");
}

sockaddr_in parseTarget(const std::string& s) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos) die("--target '%s' is not HOST:PORT", s.c_str());
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(std::stoi(s.substr(colon + 1))));
  if (inet_pton(AF_INET, s.substr(0, colon).c_str(), &a.sin_addr) != 1) die("bad address in '%s'", s.c_str());
  return a;
}

Options parseOptions(int argc, char** argv) {
  Options o;
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage();
    exit(argc < 2 ? 2 : 0);
  }
  o.mode = argv[1];
  if (o.mode != "idle" && o.mode != "fanout" && o.mode != "churn" && o.mode != "hold")
    die("unknown mode '%s'", o.mode.c_str());
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) die("%s needs a value", a.c_str());
      return argv[++i];
    };
    if (a == "--target") {
      std::stringstream ss(next());
      std::string item;
      while (std::getline(ss, item, ',')) o.targets.push_back(parseTarget(item));
    } else if (a == "--path") o.path = next();
    else if (a == "--connections") o.connections = std::stoul(next());
    else if (a == "--room-size") o.roomSize = std::stoul(next());
    else if (a == "--rooms") o.rooms = std::stoul(next());
    else if (a == "--user-base") o.userBase = std::stoul(next());
    else if (a == "--run-id") o.runId = next();
    else if (a == "--report") o.report = next();
    else if (a == "--ready-list") o.readyList = next();
    else if (a == "--no-inbox") o.inbox = false;
    else if (a == "--also-sub") o.alsoSub = next();
    else if (a == "--workers") o.workers = std::stoul(next());
    else if (a == "--sources") o.sources = std::stoul(next());
    else if (a == "--rate") o.rate = std::stod(next());
    else if (a == "--max-pending") o.maxPending = std::stoul(next());
    else if (a == "--hold") o.hold = std::stod(next());
    else if (a == "--cycles") o.cycles = std::stoul(next());
    else if (a == "--settle") o.settle = std::stod(next());
    else if (a == "--secret-file") o.secretFile = next();
    else if (a == "--server-pids") {
      std::stringstream ss(next());
      std::string item;
      while (std::getline(ss, item, ',')) if (!item.empty()) o.serverPids.push_back(std::stoi(item));
    } else if (a == "--server-name") o.serverName = next();
    else if (a == "--hub-pid") o.hubPid = std::stoi(next());
    else if (a == "--out") o.out = next();
    else if (a == "--plot") o.plot = next();
    else if (a == "--pub-rate") o.pubRate = std::stod(next());
    else if (a == "--duration") o.duration = std::stod(next());
    else if (a == "--payload-bytes") o.payloadBytes = std::stoul(next());
    else if (a == "--signals") o.signals = true;
    else if (a == "--churn-rate") o.churnRate = std::stod(next());
    else if (a == "--broadcast-cmd") o.broadcastCmd = next();
    else if (a == "--timeout") o.timeout = std::stod(next());
    else if (a == "--min-avail-mb") o.minAvailMb = std::stod(next());
    else if (a == "--label") o.label = next();
    else if (a == "--quiet") o.quiet = true;
    else if (a == "--help" || a == "-h") { usage(); exit(0); }
    else die("unknown option '%s' (see --help)", a.c_str());
  }
  if (o.targets.empty()) die("--target is required");
  if (o.secretFile.empty()) die("--secret-file is required");
  if (o.connections == 0) die("--connections must be positive");
  if (o.workers == 0) o.workers = (o.connections + 17999) / 18000;
  if (o.workers > 256) die("at most 256 workers");
  // All connections go to one destination port, so each source address has at most the ~28,000
  // ephemeral ports; connect() finds a free one by probing them one by one against the established
  // table, which gets quadratic as the range fills (at ~14,000 per address the ramp of a million
  // stalled with 84 % of the box in __inet_check_established). A fifth of the range stays fast.
  if (o.sources == 0) o.sources = std::max<uint32_t>(1, (o.connections + 4999) / 5000);
  if (o.maxPending == 0) o.maxPending = 512;
  if (o.mode == "fanout" && o.roomSize == 0) die("fanout needs --room-size > 0");
  if (o.runId.empty()) o.runId = "b" + std::to_string(getpid());
  if (o.runId.size() > 64 || o.runId.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                         "0123456789_.:-") != std::string::npos)
    die("--run-id must be 1..64 of [A-Za-z0-9_.:-]");
  if (o.rooms < 1 || o.rooms > 64) die("--rooms must be 1..64");
  if (uint64_t(o.userBase) + o.connections > UINT32_MAX) die("--user-base + --connections must stay below 2^32");
  if (o.timeout <= 0) o.timeout = o.connections / std::max(1.0, o.rate) * 3 + 60;
  return o;
}

// ---------------------------------------------------------------------------------------------
// Time, histogram

uint64_t monoNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// Log-linear: 32 sub-buckets per power of two (~3% resolution), values in ns.
constexpr int kSubBits = 5;
constexpr int kBuckets = 64 << kSubBits;

int bucketOf(uint64_t v) {
  if (v < (1u << kSubBits)) return int(v);
  int msb = 63 - __builtin_clzll(v);
  int shift = msb - kSubBits;
  return ((shift + 1) << kSubBits) + int((v >> shift) & ((1u << kSubBits) - 1));
}

uint64_t bucketValue(int b) {  // upper edge of the bucket
  if (b < (1 << kSubBits)) return uint64_t(b);
  int shift = (b >> kSubBits) - 1;
  uint64_t sub = uint64_t(b & ((1 << kSubBits) - 1)) | (1u << kSubBits);
  return ((sub + 1) << shift) - 1;
}

// The bucket's upper edge, so never more than `observedMax` (a bucket's edge can lie past the
// largest sample in it: a 99th percentile above the maximum would be nonsense).
uint64_t percentileBucket(const std::vector<uint64_t>& h, double q) {
  uint64_t total = 0;
  for (uint64_t c : h) total += c;
  if (total == 0) return 0;
  uint64_t want = uint64_t(std::ceil(q * double(total)));
  if (want == 0) want = 1;
  uint64_t acc = 0;
  for (int b = 0; b < kBuckets; ++b) {
    acc += h[b];
    if (acc >= want) return bucketValue(b);
  }
  return bucketValue(kBuckets - 1);
}

double percentile(const std::vector<uint64_t>& h, double q, uint64_t observedMax = UINT64_MAX) {
  return double(std::min<uint64_t>(percentileBucket(h, q), observedMax));
}

// ---------------------------------------------------------------------------------------------
// Shared memory between coordinator and workers

enum Command : int {
  kIdle = 0,
  kConnect,     // ramp up this worker's slice
  kStopRamp,    // stop starting new connects (memory / timeout)
  kPublish,     // fanout: publish
  kStopPublish,
  kChurn,       // churn: close+reconnect
  kFinalize,    // compute drops
  kDisconnect,  // close all
  kExit,
};

// Error codes of `err` replies (docs/protocol.md section 1), the last one for anything else.
constexpr const char* kErrCodes[] = {"bad_request", "forbidden",   "not_found", "too_large",
                                     "rate_limited", "unavailable", "wrong_shard", "other"};
constexpr int kNumErrCodes = 8;
int errCodeIndex(std::string_view code) {
  for (int i = 0; i < kNumErrCodes - 1; ++i)
    if (code == kErrCodes[i]) return i;
  return kNumErrCodes - 1;
}

// Channel kinds for the wire counts: inboxes (user:), every other channel (rooms, --also-sub),
// and (errors only) requests that are not a sub (auth, ...).
enum Kind : int { kInbox = 0, kRoom = 1, kOtherRequest = 2 };

struct WireStats {
  std::atomic<uint64_t> msgs;          // msg frames, before de-duplication
  std::atomic<uint64_t> dups;          // same epoch, seq <= last seen
  std::atomic<uint64_t> gaps;          // messages missing: sum of seq - last - 1 over jumps
  std::atomic<uint64_t> gapEvents;     // jumps
  std::atomic<uint64_t> epochChanges;  // a msg (or sub reply) with another epoch than known
  std::atomic<uint64_t> resyncs;       // resync frames
  std::atomic<uint64_t> notRecovered;  // sub replies with recovered:false
  std::atomic<uint64_t> subsOk;        // sub replies ok
  std::atomic<uint64_t> subsSince;     // of those, subs sent with since
  std::atomic<uint64_t> errs[kNumErrCodes];
};

// Pseudo close codes beside the ones of close frames.
enum PseudoClose : int { kCloseEof = 0, kCloseReset, kCloseConnectFailed, kCloseUpgradeRefused, kCloseRequestRefused, kNumPseudo };
constexpr const char* kPseudoCloseNames[] = {"eof", "reset", "connect_failed", "upgrade_refused", "request_refused"};
constexpr int kCloseSlots = 32;

struct alignas(64) WorkerStats {
  std::atomic<uint64_t> started, connected, upgraded, ready, failed, closedAfterReady, closedNow;
  std::atomic<uint64_t> serverCloses, lastCloseCode, errors, resyncs, pings;
  std::atomic<uint64_t> deliveries, inboxMsgs, gaps, dups, pubsSent, pubsOk, pubsErr, drops, expected;
  std::atomic<uint64_t> churned, latMax, finalized, exited, generation;
  std::atomic<uint64_t> hist[kBuckets];
  std::atomic<uint64_t> ackHist[kBuckets];  // fanout: publish -> its ok (the hub's durable ack), ns
  std::atomic<uint64_t> ackMax;
  // wire counts (see the top of the file)
  WireStats wire[3];
  std::atomic<uint64_t> unexpected;        // msg frames for a channel this connection did not subscribe
  std::atomic<uint64_t> reconnects;        // connects started again after a close (hold)
  std::atomic<uint64_t> resubscribed;      // connections subscribed again after a close
  std::atomic<uint64_t> pseudoCloses[kNumPseudo];
  std::atomic<uint32_t> closeCode[kCloseSlots];  // close frame codes seen (written by this worker only)
  std::atomic<uint64_t> closeCount[kCloseSlots];
  std::atomic<uint64_t> closeOverflow;
  std::atomic<uint64_t> resubMaxNs;
  std::atomic<uint64_t> resubHist[kBuckets];  // close -> subscribed again, ns
  char lastError[160];
};

struct Shared {
  std::atomic<int> command;
  std::atomic<int> generation;  // bumped with every kConnect / kDisconnect
  uint32_t rooms;
  size_t readyBitsOffset;       // from this struct: one bit per connection, set while subscribed
  std::atomic<uint32_t>* roomSeq() { return reinterpret_cast<std::atomic<uint32_t>*>(this + 1); }
  std::atomic<uint64_t>* readyBits() {
    return reinterpret_cast<std::atomic<uint64_t>*>(reinterpret_cast<char*>(this) + readyBitsOffset);
  }
};

Shared* gShared = nullptr;
volatile sig_atomic_t gStopRamp = 0;  // SIGUSR1 (stop the ramp, measure what is held) or SIGINT/SIGTERM
volatile sig_atomic_t gAbort = 0;
WorkerStats* gStats = nullptr;

// ---------------------------------------------------------------------------------------------
// Token (HS256, signed here with OpenSSL)

std::string b64url(const unsigned char* p, size_t n) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < n; i += 3) {
    uint32_t v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
    out += t[v >> 18]; out += t[(v >> 12) & 63]; out += t[(v >> 6) & 63]; out += t[v & 63];
  }
  if (i + 1 == n) {
    uint32_t v = p[i] << 16;
    out += t[v >> 18]; out += t[(v >> 12) & 63];
  } else if (i + 2 == n) {
    uint32_t v = (p[i] << 16) | (p[i + 1] << 8);
    out += t[v >> 18]; out += t[(v >> 12) & 63]; out += t[(v >> 6) & 63];
  }
  return out;
}

std::string gSecret;

std::string makeToken(uint32_t user, const std::string& roomGrant, const std::string& extra) {
  static const std::string header = [] {
    std::string h = R"({"alg":"HS256","typ":"JWT"})";
    return b64url(reinterpret_cast<const unsigned char*>(h.data()), h.size());
  }();
  long now = time(nullptr);
  char claims[512];
  snprintf(claims, sizeof claims,
           R"({"sub":"%u","iat":%ld,"exp":%ld,"ch":["user:%u","%s"%s%s%s],"pub":["%s"]})", user, now - 5,
           now + 4 * 3600, user, roomGrant.c_str(), extra.empty() ? "" : ",\"", extra.c_str(),
           extra.empty() ? "" : "\"", roomGrant.c_str());
  std::string input = header + "." + b64url(reinterpret_cast<const unsigned char*>(claims), strlen(claims));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int macLen = 0;
  HMAC(EVP_sha256(), gSecret.data(), int(gSecret.size()), reinterpret_cast<const unsigned char*>(input.data()),
       input.size(), mac, &macLen);
  return input + "." + b64url(mac, macLen);
}

// ---------------------------------------------------------------------------------------------
// Worker

enum ConnState : uint8_t { kFree, kConnecting, kHandshake, kAuthSub, kReady, kClosing };

struct Conn {
  uv_tcp_t tcp;
  char* partial;          // an incomplete frame / response head, only while one is pending
  uint32_t partialLen;
  uint32_t partialCap;
  uint32_t idx;           // global index = user id
  uint32_t subSeq;        // data channel seq at subscribe time
  uint32_t lastSeq;       // last data channel seq received
  uint32_t recv;          // data channel messages received
  uint32_t downAtMs;       // when it closed after being subscribed (msNow()), 0: not down
  uint16_t pubCount;      // publishes sent by this connection (fanout publishers)
  ConnState state;
  uint8_t pendingReplies;
  uint8_t attempts;       // hold: reconnects since it was last subscribed (backoff)
  bool wantReconnect;
  bool everReady;
};

// Where connection i's channels sit in its row of Worker::chEpoch/chSeq (and sub ids 2 + index).
struct Layout {
  int inbox = -1;      // user:<user>
  int room0 = -1;      // room of partition 0; partition k at room0 + k
  int also = -1;       // --also-sub
  int data = -1;       // the data channel of fanout/broadcast: --also-sub, else the partition-0 room
  uint32_t count = 0;  // channels per connection
  std::vector<uint64_t> stride;  // per partition; 1 for partition 0
};

struct Worker;
Worker* W = nullptr;

struct Worker {
  Options opt;
  uint32_t id = 0;
  uint32_t first = 0, count = 0;  // global index slice
  std::vector<Conn> conns;
  std::vector<uint32_t> toConnect;  // local slots waiting for a connect
  size_t toConnectPos = 0;
  uint32_t pending = 0;             // connects/handshakes in flight
  uv_loop_t* loop = nullptr;
  uv_timer_t tick{};
  WorkerStats* st = nullptr;
  char* readBuf = nullptr;
  std::vector<char> scratch;
  std::vector<char> frameOut;
  uint64_t rampStartNs = 0;
  double rampBudget = 0;
  int lastGen = 0;
  int lastCmd = kIdle;
  // publishing
  std::vector<uint32_t> publishers;  // local slots
  size_t pubRr = 0;
  double pubBudget = 0;
  uint64_t lastTickNs = 0;
  uint64_t pubCounter = 0;
  // Send time of publish k at [k % size]: its ok (id 1000 + k) gives the ack latency. Far more slots
  // than publishes in flight at any rate this tool drives.
  std::vector<uint64_t> pubSentNs = std::vector<uint64_t>(1 << 16, 0);
  double churnBudget = 0;
  uint64_t rng = 0x9E3779B97F4A7C15ull;
  uint32_t dataSubId = 0;           // reply id of the data channel's sub
  uint32_t subCount = 0;
  std::string upgradeReq;
  // wire state: per (local slot, channel) the last epoch (0: none yet) and seq seen
  Layout lay;
  std::vector<uint64_t> chEpoch;
  std::vector<uint32_t> chSeq;
  std::string roomPrefix;           // "room:<run>-"
  // hold: closed connections waiting for their reconnect, a min-heap on (due ms, local slot)
  bool hold = false;
  std::vector<std::pair<uint32_t, uint32_t>> backoff;
  uint64_t msBase = 0;

  uint32_t rnd() {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return uint32_t(rng);
  }
};

Conn* connOf(uv_handle_t* h) { return reinterpret_cast<Conn*>(h); }  // tcp is the first member
uint32_t slotOf(Conn* c) { return uint32_t(c - W->conns.data()); }

void setError(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(W->st->lastError, sizeof W->st->lastError, fmt, ap);
  va_end(ap);
}

struct WriteReq {
  uv_write_t req;
  size_t len;
  char data[];
};

void closeConn(Conn* c);

void writeRaw(Conn* c, const char* data, size_t len) {
  if (c->state == kFree || c->state == kClosing) return;
  uv_buf_t b = uv_buf_init(const_cast<char*>(data), unsigned(len));
  int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&c->tcp), &b, 1);
  if (n == int(len)) return;
  if (n < 0 && n != UV_EAGAIN) {
    closeConn(c);
    return;
  }
  size_t done = n > 0 ? size_t(n) : 0;
  auto* w = static_cast<WriteReq*>(malloc(sizeof(WriteReq) + len - done));
  w->len = len - done;
  memcpy(w->data, data + done, len - done);
  uv_buf_t rb = uv_buf_init(w->data, unsigned(w->len));
  uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &rb, 1, [](uv_write_t* req, int) { free(req); });
}

// Appends one masked client frame to W->frameOut.
void appendFrame(uint8_t opcode, const char* payload, size_t len) {
  auto& out = W->frameOut;
  size_t at = out.size();
  size_t hdr = len < 126 ? 2 : len < 65536 ? 4 : 10;
  out.resize(at + hdr + 4 + len);
  auto* p = reinterpret_cast<uint8_t*>(out.data() + at);
  p[0] = 0x80 | opcode;
  if (len < 126) {
    p[1] = 0x80 | uint8_t(len);
  } else if (len < 65536) {
    p[1] = 0x80 | 126;
    webim::storeBigEndian(p + 2, uint16_t(len));
  } else {
    p[1] = 0x80 | 127;
    webim::storeBigEndian(p + 2, uint64_t(len));
  }
  uint32_t key = W->rnd();
  uint8_t* mask = p + hdr;
  memcpy(mask, &key, 4);
  uint8_t* dst = mask + 4;
  for (size_t i = 0; i < len; ++i) dst[i] = uint8_t(payload[i]) ^ mask[i & 3];
}

void flushFrames(Conn* c) {
  if (!W->frameOut.empty()) writeRaw(c, W->frameOut.data(), W->frameOut.size());
  W->frameOut.clear();
}

void sendText(Conn* c, const char* json, size_t len) {
  appendFrame(0x1, json, len);
  flushFrames(c);
}

uint32_t userOf(const Conn* c) { return W->opt.userBase + c->idx; }

// Room of connection idx in partition k: partition 0 groups consecutive indices (as before
// --rooms), partition k > 0 groups by the position idx * stride_k mod N (stride_k coprime to N),
// so no room of one partition has the members of a room of another.
uint32_t roomOf(uint32_t idx, uint32_t k = 0) {
  uint64_t pos = k == 0 ? idx : uint64_t(idx) * W->lay.stride[k] % W->opt.connections;
  return uint32_t(pos / W->opt.roomSize);
}

std::string roomName(const Options& o, uint32_t room, uint32_t k) {
  return "room:" + o.runId + "-" + (k == 0 ? "" : "p" + std::to_string(k) + "-") + std::to_string(room);
}

// The strides of the room partitions: 1 for partition 0, then distinct values coprime to N spread
// over (1, N) by the golden ratio.
std::vector<uint64_t> partitionStrides(uint32_t n, uint32_t rooms) {
  std::vector<uint64_t> out{1};
  for (uint32_t k = 1; k < rooms; ++k) {
    double f = std::fmod(double(k) * 0.6180339887498949, 1.0);
    uint64_t s = std::max<uint64_t>(2, uint64_t(f * n));
    for (uint64_t tries = 0; n > 2 && tries < 2ull * n; ++tries, s = s + 1 >= n ? 2 : s + 1) {
      if (std::gcd(s, uint64_t(n)) == 1 && std::find(out.begin(), out.end(), s) == out.end()) break;
    }
    out.push_back(n > 2 ? s : 1);
  }
  return out;
}

Layout makeLayout(const Options& o) {
  Layout l;
  int next = 0;
  if (o.inbox) l.inbox = next++;
  if (o.roomSize) {
    l.room0 = next;
    next += int(o.rooms);
  }
  if (!o.alsoSub.empty()) l.also = next++;
  l.data = l.also >= 0 ? l.also : l.room0;
  l.count = uint32_t(next);
  l.stride = partitionStrides(o.connections, o.rooms);
  return l;
}

std::string channelName(const Conn* c, int k) {
  const Layout& l = W->lay;
  if (k == l.inbox) return "user:" + std::to_string(userOf(c));
  if (k == l.also) return W->opt.alsoSub;
  uint32_t part = uint32_t(k - l.room0);
  return roomName(W->opt, roomOf(c->idx, part), part);
}

Kind kindOf(int k) { return k == W->lay.inbox ? kInbox : kRoom; }

// The index of channel `ch` among c's channels, -1 when it is not one of them.
int channelIndex(const Conn* c, std::string_view ch) {
  const Layout& l = W->lay;
  auto parseNum = [](std::string_view s, uint64_t& v) {
    if (s.empty() || s.size() > 10) return false;
    v = 0;
    for (char d : s) {
      if (d < '0' || d > '9') return false;
      v = v * 10 + uint64_t(d - '0');
    }
    return true;
  };
  uint64_t v = 0;
  if (ch.starts_with("user:")) return l.inbox >= 0 && parseNum(ch.substr(5), v) && v == userOf(c) ? l.inbox : -1;
  if (l.room0 >= 0 && ch.starts_with(W->roomPrefix)) {
    std::string_view rest = ch.substr(W->roomPrefix.size());
    uint64_t part = 0;
    if (rest.starts_with("p")) {
      size_t dash = rest.find('-');
      if (dash == std::string_view::npos || !parseNum(rest.substr(1, dash - 1), part) || part == 0 ||
          part >= W->opt.rooms)
        return l.also >= 0 && ch == W->opt.alsoSub ? l.also : -1;
      rest = rest.substr(dash + 1);
    }
    if (parseNum(rest, v) && v == roomOf(c->idx, uint32_t(part))) return l.room0 + int(part);
  }
  if (l.also >= 0 && ch == W->opt.alsoSub) return l.also;
  return -1;
}

uint32_t msNow() { return uint32_t((monoNs() - W->msBase) / 1000000) + 1; }  // never 0

std::string_view stringField(std::string_view s, std::string_view key) {  // key: "\"ch\":\""
  size_t at = s.find(key);
  if (at == std::string_view::npos) return {};
  size_t from = at + key.size();
  size_t end = s.find('"', from);
  return end == std::string_view::npos ? std::string_view{} : s.substr(from, end - from);
}

uint64_t parseEpoch(std::string_view s) {  // 16 hex digits; 0 when absent or malformed
  std::string_view e = stringField(s, "\"epoch\":\"");
  if (e.size() != 16) return 0;
  uint64_t v = 0;
  for (char h : e) {
    int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
    if (d < 0) return 0;
    v = (v << 4) | uint64_t(d);
  }
  return v;
}

void onClosed(uv_handle_t* h) {
  Conn* c = connOf(h);
  free(c->partial);
  c->partial = nullptr;
  c->partialLen = c->partialCap = 0;
  c->state = kFree;
  W->st->closedNow.fetch_add(1, std::memory_order_relaxed);
  if (W->hold && (W->lastCmd == kConnect || W->lastCmd == kStopRamp)) {
    // Jittered exponential backoff: 50-150 ms, then doubling, at most 2 s.
    c->wantReconnect = false;
    uint32_t base = 100u << std::min<uint32_t>(c->attempts, 5);
    uint32_t delay = std::min<uint32_t>(2000, base / 2 + W->rnd() % (base + 1));
    if (c->attempts < 255) c->attempts++;
    W->backoff.emplace_back(msNow() + delay, slotOf(c));
    std::push_heap(W->backoff.begin(), W->backoff.end(), std::greater<>());
    return;
  }
  if (c->wantReconnect) {
    c->wantReconnect = false;
    W->toConnect.push_back(slotOf(c));
  }
}

void setReadyBit(uint32_t idx, bool on) {
  std::atomic<uint64_t>& word = gShared->readyBits()[idx / 64];
  uint64_t bit = 1ull << (idx % 64);
  if (on) word.fetch_or(bit, std::memory_order_relaxed);
  else word.fetch_and(~bit, std::memory_order_relaxed);
}

void closeConn(Conn* c) {
  if (c->state == kFree || c->state == kClosing) return;
  if (c->state == kConnecting || c->state == kHandshake || c->state == kAuthSub) W->pending--;
  if (c->state == kReady) {
    W->st->ready.fetch_sub(1, std::memory_order_relaxed);
    setReadyBit(c->idx, false);
    if (c->downAtMs == 0) c->downAtMs = msNow();
  }
  c->state = kClosing;
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), onClosed);
}

void countPseudoClose(PseudoClose p) { W->st->pseudoCloses[p].fetch_add(1, std::memory_order_relaxed); }

void countCloseCode(uint32_t code) {
  WorkerStats* st = W->st;
  for (int i = 0; i < kCloseSlots; ++i) {
    uint32_t have = st->closeCode[i].load(std::memory_order_relaxed);
    if (have == code) {
      st->closeCount[i].fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (have == 0) {  // this worker is the only writer of its table
      st->closeCount[i].store(1, std::memory_order_relaxed);
      st->closeCode[i].store(code, std::memory_order_release);
      return;
    }
  }
  st->closeOverflow.fetch_add(1, std::memory_order_relaxed);
}

// Fails a connection that never became ready; retried by the ramp while connecting.
void failConn(Conn* c, const char* why, int code) {
  if (c->state == kReady) {
    W->st->closedAfterReady.fetch_add(1, std::memory_order_relaxed);
  } else {
    W->st->failed.fetch_add(1, std::memory_order_relaxed);
    if (W->lastCmd == kConnect || W->lastCmd == kChurn) c->wantReconnect = true;
  }
  setError("conn %u: %s (%d)", c->idx, why, code);
  closeConn(c);
}

uint64_t parseUint(std::string_view s, std::string_view key, bool* found = nullptr) {
  size_t at = s.find(key);
  if (found) *found = at != std::string_view::npos;
  if (at == std::string_view::npos) return 0;
  uint64_t v = 0;
  for (size_t i = at + key.size(); i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) v = v * 10 + uint64_t(s[i] - '0');
  return v;
}

void becomeReady(Conn* c) {
  c->state = kReady;
  c->everReady = true;
  c->attempts = 0;
  W->pending--;
  W->st->ready.fetch_add(1, std::memory_order_relaxed);
  setReadyBit(c->idx, true);
  if (c->downAtMs != 0) {
    uint64_t ns = uint64_t(msNow() - c->downAtMs) * 1000000ull;
    c->downAtMs = 0;
    WorkerStats* st = W->st;
    st->resubscribed.fetch_add(1, std::memory_order_relaxed);
    st->resubHist[bucketOf(ns)].fetch_add(1, std::memory_order_relaxed);
    if (ns > st->resubMaxNs.load(std::memory_order_relaxed)) st->resubMaxNs.store(ns, std::memory_order_relaxed);
  }
}

// Where connection c's position on its channel k is kept (W->chEpoch, W->chSeq).
size_t positionSlot(Conn* c, size_t k) { return size_t(slotOf(c)) * W->lay.count + k; }

// A msg frame, counted on the wire against the (epoch, seq) last seen on its channel.
void countMsg(Conn* c, std::string_view msg) {
  size_t dataAt = msg.find("\"data\":");
  std::string_view head = dataAt == std::string_view::npos ? msg : msg.substr(0, dataAt);
  int k = channelIndex(c, stringField(head, "\"ch\":\""));
  if (k < 0) {
    W->st->unexpected.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  WireStats& ws = W->st->wire[kindOf(k)];
  ws.msgs.fetch_add(1, std::memory_order_relaxed);
  uint64_t epoch = parseEpoch(head);
  uint32_t seq = uint32_t(parseUint(head, "\"seq\":"));
  size_t at = positionSlot(c, size_t(k));
  uint64_t& knownEpoch = W->chEpoch[at];
  uint32_t& last = W->chSeq[at];
  if (knownEpoch == 0) {  // before the sub reply (not expected): start counting here
    knownEpoch = epoch;
    last = seq;
  } else if (epoch != knownEpoch) {
    ws.epochChanges.fetch_add(1, std::memory_order_relaxed);
    knownEpoch = epoch;
    last = seq;
  } else if (seq <= last) {
    ws.dups.fetch_add(1, std::memory_order_relaxed);
  } else {
    if (seq > last + 1) {
      ws.gaps.fetch_add(seq - last - 1, std::memory_order_relaxed);
      ws.gapEvents.fetch_add(1, std::memory_order_relaxed);
    }
    last = seq;
  }
}

// A sub reply ok for channel k: the position to count from (a first sub), or the recovery result.
void countSubOk(Conn* c, int k, std::string_view msg) {
  WireStats& ws = W->st->wire[kindOf(k)];
  ws.subsOk.fetch_add(1, std::memory_order_relaxed);
  uint64_t epoch = parseEpoch(msg);
  uint32_t seq = uint32_t(parseUint(msg, "\"seq\":"));
  size_t at = positionSlot(c, size_t(k));
  uint64_t& knownEpoch = W->chEpoch[at];
  uint32_t& last = W->chSeq[at];
  bool withSince = msg.find("\"recovered\":") != std::string_view::npos;
  if (withSince) ws.subsSince.fetch_add(1, std::memory_order_relaxed);
  bool recovered = msg.find("\"recovered\":true") != std::string_view::npos;
  if (withSince && !recovered) {
    ws.notRecovered.fetch_add(1, std::memory_order_relaxed);
    if (knownEpoch != 0 && epoch != knownEpoch) ws.epochChanges.fetch_add(1, std::memory_order_relaxed);
    knownEpoch = epoch;  // nothing is replayed: count on from the channel's current position
    last = seq;
    return;
  }
  if (knownEpoch == 0) {
    knownEpoch = epoch;
    last = seq;
  } else if (epoch != knownEpoch) {
    ws.epochChanges.fetch_add(1, std::memory_order_relaxed);
    knownEpoch = epoch;
    last = seq;
  } else if (!withSince && seq > last) {
    last = seq;  // a plain re-subscribe (churn, cycles) skips what was sent meanwhile: not a gap
  }
  // recovered:true: the missed messages follow and are counted against `last`
}

void countResync(Conn* c, std::string_view msg) {
  int k = channelIndex(c, stringField(msg, "\"ch\":\""));
  if (k < 0) {
    W->st->unexpected.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  W->st->wire[kindOf(k)].resyncs.fetch_add(1, std::memory_order_relaxed);
  size_t at = positionSlot(c, size_t(k));
  uint64_t epoch = parseEpoch(msg);
  uint32_t seq = uint32_t(parseUint(msg, "\"seq\":"));
  if (W->chEpoch[at] != epoch) {
    W->chEpoch[at] = epoch;
    W->chSeq[at] = seq;
  } else if (seq > W->chSeq[at]) {
    W->chSeq[at] = seq;  // messages up to seq may be missing: continue after it
  }
}

// Publish -> delivery latency of a fanout message or signal, from the send time in its data ("t").
void countLatency(WorkerStats* st, std::string_view msg) {
  uint64_t now = monoNs();
  bool hasT = false;
  size_t dataAt = msg.find("\"data\":");
  uint64_t t = dataAt == std::string_view::npos ? 0 : parseUint(msg.substr(dataAt), "\"t\":", &hasT);
  if (!hasT || now < t) return;
  uint64_t lat = now - t;
  st->hist[bucketOf(lat)].fetch_add(1, std::memory_order_relaxed);
  uint64_t prev = st->latMax.load(std::memory_order_relaxed);
  while (lat > prev && !st->latMax.compare_exchange_weak(prev, lat, std::memory_order_relaxed)) {
  }
}

void onText(Conn* c, std::string_view msg) {
  WorkerStats* st = W->st;
  if (msg.starts_with(R"({"op":"signal")")) {  // --signals: no seq, so no gap or duplicate to see
    if (W->lay.data < 0 || W->lay.data != channelIndex(c, stringField(msg, "\"ch\":\""))) return;
    c->recv++;
    countLatency(st, msg);
    st->deliveries.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (msg.starts_with(R"({"op":"msg")")) {
    countMsg(c, msg);
    if (msg.find(R"("ch":"user:)") != std::string_view::npos) {
      st->inboxMsgs.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (W->lay.data < 0 || W->lay.data != channelIndex(c, stringField(msg, "\"ch\":\""))) return;
    uint32_t seq = uint32_t(parseUint(msg, "\"seq\":"));
    if (c->lastSeq != 0 || c->recv != 0) {
      if (seq <= c->lastSeq) st->dups.fetch_add(1, std::memory_order_relaxed);
      else if (seq != c->lastSeq + 1) st->gaps.fetch_add(1, std::memory_order_relaxed);
    } else if (seq != c->subSeq + 1 && seq > c->subSeq + 1) {
      st->gaps.fetch_add(1, std::memory_order_relaxed);
    }
    if (seq > c->lastSeq) c->lastSeq = seq;
    c->recv++;
    countLatency(st, msg);
    st->deliveries.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (msg.starts_with(R"({"op":"ok")")) {
    uint64_t id = parseUint(msg, "\"id\":");
    if (id >= 1000) {
      st->pubsOk.fetch_add(1, std::memory_order_relaxed);
      uint64_t sentNs = W->pubSentNs[(id - 1000) % W->pubSentNs.size()], nowNs = monoNs();
      if (sentNs != 0 && nowNs >= sentNs) {
        st->ackHist[bucketOf(nowNs - sentNs)].fetch_add(1, std::memory_order_relaxed);
        uint64_t prev = st->ackMax.load(std::memory_order_relaxed);
        while (nowNs - sentNs > prev && !st->ackMax.compare_exchange_weak(prev, nowNs - sentNs, std::memory_order_relaxed)) {
        }
      }
      uint32_t seq = uint32_t(parseUint(msg, "\"seq\":"));
      auto& rs = gShared->roomSeq()[roomOf(c->idx)];
      uint32_t prev = rs.load(std::memory_order_relaxed);
      while (seq > prev && !rs.compare_exchange_weak(prev, seq, std::memory_order_relaxed)) {
      }
      return;
    }
    if (c->state != kAuthSub) return;
    if (id >= 2 && id < 2 + W->lay.count) countSubOk(c, int(id - 2), msg);
    if (id == W->dataSubId) c->subSeq = c->lastSeq = uint32_t(parseUint(msg, "\"seq\":"));
    if (c->pendingReplies > 0 && --c->pendingReplies == 0) becomeReady(c);
    return;
  }
  if (msg.starts_with(R"({"op":"err")")) {
    st->errors.fetch_add(1, std::memory_order_relaxed);
    uint64_t id = parseUint(msg, "\"id\":");
    int code = errCodeIndex(stringField(msg, "\"code\":\""));
    setError("conn %u: %.*s", c->idx, int(std::min<size_t>(msg.size(), 120)), msg.data());
    if (id >= 1000) {
      st->pubsErr.fetch_add(1, std::memory_order_relaxed);
      st->wire[kRoom].errs[code].fetch_add(1, std::memory_order_relaxed);
      return;
    }
    bool sub = id >= 2 && id < 2 + W->lay.count;
    st->wire[sub ? kindOf(int(id - 2)) : kOtherRequest].errs[code].fetch_add(1, std::memory_order_relaxed);
    if (c->state == kAuthSub) {
      countPseudoClose(kCloseRequestRefused);
      failConn(c, "request refused", 0);
    }
    return;
  }
  if (msg.starts_with(R"({"op":"resync")")) {
    st->resyncs.fetch_add(1, std::memory_order_relaxed);
    countResync(c, msg);
  }
}

// Parses server frames (unmasked) from data; returns the bytes consumed.
size_t parseFrames(Conn* c, const char* data, size_t len) {
  size_t pos = 0;
  while (len - pos >= 2 && c->state != kClosing && c->state != kFree) {
    auto* p = reinterpret_cast<const uint8_t*>(data + pos);
    uint8_t op = p[0] & 0x0F;
    bool masked = p[1] & 0x80;
    uint64_t plen = p[1] & 0x7F;
    size_t hdr = 2;
    if (plen == 126) {
      if (len - pos < 4) break;
      plen = webim::loadBigEndian<uint16_t>(p + 2);
      hdr = 4;
    } else if (plen == 127) {
      if (len - pos < 10) break;
      plen = webim::loadBigEndian<uint64_t>(p + 2);
      hdr = 10;
    }
    if (masked) hdr += 4;
    if (len - pos < hdr + plen) break;
    const char* payload = data + pos + hdr;
    switch (op) {
      case 0x1:
      case 0x0:
        onText(c, std::string_view(payload, size_t(plen)));
        break;
      case 0x9: {
        W->st->pings.fetch_add(1, std::memory_order_relaxed);
        appendFrame(0xA, payload, size_t(plen));
        flushFrames(c);
        break;
      }
      case 0x8: {
        uint16_t code = plen >= 2 ? webim::loadBigEndian<uint16_t>(payload) : 1005;
        W->st->serverCloses.fetch_add(1, std::memory_order_relaxed);
        W->st->lastCloseCode.store(code, std::memory_order_relaxed);
        countCloseCode(code);
        char body[2];
        webim::storeBigEndian(body, code);
        appendFrame(0x8, body, 2);
        flushFrames(c);
        failConn(c, "server closed", code);
        return len;
      }
      default:
        break;
    }
    pos += hdr + size_t(plen);
  }
  return pos;
}

// auth and the subscriptions in one write (the server handles frames in order and answers auth
// synchronously); in hold mode a channel seen before is subscribed with since = its last (epoch,
// seq); the other modes re-subscribe without since (churn, cycles) as they always did.
void sendAuthAndSubs(Conn* c) {
  const Options& o = W->opt;
  std::string token = makeToken(userOf(c), o.roomSize ? "room:" + o.runId + "-*" : "none", o.alsoSub);
  char buf[1024];
  int n = snprintf(buf, sizeof buf, R"({"op":"auth","id":1,"token":"%s"})", token.c_str());
  appendFrame(0x1, buf, size_t(n));
  c->pendingReplies = 1;  // the auth
  for (uint32_t k = 0; k < W->lay.count; ++k) {
    std::string ch = channelName(c, int(k));
    size_t at = positionSlot(c, k);
    if (W->hold && W->chEpoch[at] != 0) {
      n = snprintf(buf, sizeof buf, R"({"op":"sub","id":%u,"ch":"%s","since":{"epoch":"%016)" PRIx64 R"(","seq":%u}})",
                   2 + k, ch.c_str(), W->chEpoch[at], W->chSeq[at]);
    } else {
      n = snprintf(buf, sizeof buf, R"({"op":"sub","id":%u,"ch":"%s"})", 2 + k, ch.c_str());
    }
    appendFrame(0x1, buf, size_t(n));
    c->pendingReplies++;
  }
  flushFrames(c);
}

size_t onBytes(Conn* c, const char* data, size_t len) {
  if (c->state == kHandshake) {
    std::string_view s(data, len);
    size_t end = s.find("\r\n\r\n");
    if (end == std::string_view::npos) return 0;
    if (!s.starts_with("HTTP/1.1 101")) {
      countPseudoClose(kCloseUpgradeRefused);
      failConn(c, "upgrade refused", int(s.size() > 12 ? atoi(s.data() + 9) : 0));
      return len;
    }
    W->st->upgraded.fetch_add(1, std::memory_order_relaxed);
    c->state = kAuthSub;
    sendAuthAndSubs(c);
    size_t used = end + 4;
    return used + parseFrames(c, data + used, len - used);
  }
  return parseFrames(c, data, len);
}

void onAlloc(uv_handle_t*, size_t, uv_buf_t* buf) { *buf = uv_buf_init(W->readBuf, 65536); }

void onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  Conn* c = connOf(reinterpret_cast<uv_handle_t*>(s));
  if (nread < 0) {
    countPseudoClose(nread == UV_EOF ? kCloseEof : kCloseReset);
    failConn(c, nread == UV_EOF ? "eof" : uv_strerror(int(nread)), int(nread));
    return;
  }
  if (nread == 0) return;
  if (c->partialLen == 0) {
    size_t used = onBytes(c, buf->base, size_t(nread));
    if (c->state == kFree || c->state == kClosing) return;
    size_t rest = size_t(nread) - used;
    if (rest > 0) {
      c->partialCap = uint32_t(std::max<size_t>(rest, 256));
      c->partial = static_cast<char*>(malloc(c->partialCap));
      memcpy(c->partial, buf->base + used, rest);
      c->partialLen = uint32_t(rest);
    }
    return;
  }
  size_t need = c->partialLen + size_t(nread);
  if (need > c->partialCap) {
    c->partialCap = uint32_t(std::max<size_t>(need, c->partialCap * 2));
    c->partial = static_cast<char*>(realloc(c->partial, c->partialCap));
  }
  memcpy(c->partial + c->partialLen, buf->base, size_t(nread));
  c->partialLen = uint32_t(need);
  size_t used = onBytes(c, c->partial, c->partialLen);
  if (c->state == kFree || c->state == kClosing) return;
  size_t rest = c->partialLen - used;
  if (rest == 0) {
    free(c->partial);
    c->partial = nullptr;
    c->partialLen = c->partialCap = 0;
  } else {
    memmove(c->partial, c->partial + used, rest);
    c->partialLen = uint32_t(rest);
  }
}

void onConnect(uv_connect_t* req, int status) {
  Conn* c = static_cast<Conn*>(req->data);
  free(req);
  if (c->state != kConnecting) return;
  if (status < 0) {
    countPseudoClose(kCloseConnectFailed);
    failConn(c, uv_strerror(status), status);
    return;
  }
  W->st->connected.fetch_add(1, std::memory_order_relaxed);
  c->state = kHandshake;
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), onAlloc, onRead);
  const sockaddr_in& t = W->opt.targets[c->idx % W->opt.targets.size()];
  char host[64];
  inet_ntop(AF_INET, &t.sin_addr, host, sizeof host);
  char req2[512];
  int n = snprintf(req2, sizeof req2,
                   "GET %s HTTP/1.1\r\nHost: %s:%u\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   W->opt.path.c_str(), host, ntohs(t.sin_port));
  writeRaw(c, req2, size_t(n));
}

bool startConnect(Conn* c) {
  const Options& o = W->opt;
  int rc = uv_tcp_init_ex(W->loop, &c->tcp, AF_INET);
  if (rc != 0) {
    setError("uv_tcp_init_ex: %s", uv_strerror(rc));
    return false;
  }
  c->state = kConnecting;
  c->partial = nullptr;
  c->partialLen = c->partialCap = 0;
  c->subSeq = c->lastSeq = c->recv = 0;
  c->pendingReplies = 0;
  W->pending++;
  W->st->started.fetch_add(1, std::memory_order_relaxed);
  uv_os_fd_t fd;
  uv_fileno(reinterpret_cast<uv_handle_t*>(&c->tcp), &fd);
  int one = 1;
#ifdef IP_BIND_ADDRESS_NO_PORT
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
  sockaddr_in src{};
  src.sin_family = AF_INET;
  src.sin_addr.s_addr = htonl(0x7F010001u + (c->idx / uint32_t(o.targets.size())) % o.sources);
  rc = uv_tcp_bind(&c->tcp, reinterpret_cast<sockaddr*>(&src), 0);
  if (rc != 0) {
    failConn(c, "bind", rc);
    return true;
  }
  auto* req = static_cast<uv_connect_t*>(malloc(sizeof(uv_connect_t)));
  req->data = c;
  rc = uv_tcp_connect(req, &c->tcp, reinterpret_cast<const sockaddr*>(&o.targets[c->idx % o.targets.size()]),
                      onConnect);
  if (rc != 0) {
    free(req);
    failConn(c, "connect", rc);
  }
  return true;
}

void publishOne(Conn* c) {
  const Options& o = W->opt;
  uint64_t k = ++W->pubCounter;
  char head[256];
  int n = o.signals
              ? snprintf(head, sizeof head, R"({"op":"signal","id":%)" PRIu64 R"(,"ch":"room:%s-%u","data":{"t":%)" PRIu64
                         R"(,"p":%u)",
                         1000 + k, o.runId.c_str(), roomOf(c->idx), monoNs(), c->idx)
              : snprintf(head, sizeof head, R"({"op":"pub","id":%)" PRIu64 R"(,"ch":"room:%s-%u","cid":"%s-%u-%)" PRIu64
                         R"(","data":{"t":%)" PRIu64 R"(,"p":%u)",
                         1000 + k, o.runId.c_str(), roomOf(c->idx), o.runId.c_str(), c->idx, k, monoNs(), c->idx);
  std::string msg(head, size_t(n));
  if (o.payloadBytes) {
    msg += R"(,"x":")";
    msg.append(o.payloadBytes, 'x');
    msg += '"';
  }
  msg += "}}";
  W->st->pubsSent.fetch_add(1, std::memory_order_relaxed);
  W->pubSentNs[k % W->pubSentNs.size()] = monoNs();
  sendText(c, msg.data(), msg.size());
}

void finalize() {
  uint64_t drops = 0, expected = 0;
  const Options& o = W->opt;
  for (Conn& c : W->conns) {
    if (c.state != kReady || o.roomSize == 0 || !o.alsoSub.empty()) continue;
    uint32_t last = gShared->roomSeq()[roomOf(c.idx)].load();
    if (last <= c.subSeq) continue;
    uint64_t exp = last - c.subSeq;
    expected += exp;
    if (c.recv < exp) drops += exp - c.recv;
  }
  W->st->drops.store(drops);
  W->st->expected.store(expected);
  W->st->finalized.store(1);
}

void onTick(uv_timer_t*) {
  Worker* w = W;
  int cmd = gShared->command.load();
  int gen = gShared->generation.load();
  uint64_t now = monoNs();
  double dt = w->lastTickNs ? double(now - w->lastTickNs) / 1e9 : 0;
  w->lastTickNs = now;
  bool newCmd = cmd != w->lastCmd || gen != w->lastGen;
  if (newCmd) {
    if (cmd == kConnect && (w->lastCmd != kConnect || gen != w->lastGen)) {
      w->toConnect.clear();
      w->toConnectPos = 0;
      for (uint32_t i = 0; i < w->count; ++i)
        if (w->conns[i].state == kFree) w->toConnect.push_back(i);
      w->rampBudget = 0;
      w->st->finalized.store(0);
    }
    if (cmd == kDisconnect) {
      w->lastCmd = cmd;
      w->backoff.clear();
      for (Conn& c : w->conns) {
        c.wantReconnect = false;
        closeConn(&c);
      }
      w->toConnect.clear();
      w->toConnectPos = 0;
    }
    if (cmd == kFinalize) finalize();
    if (cmd == kPublish) {
      w->publishers.clear();
      for (uint32_t i = 0; i < w->count; ++i)
        if (w->conns[i].idx % w->opt.roomSize == 0) w->publishers.push_back(i);
      w->pubBudget = 0;
    }
    if (cmd == kExit) {
      w->lastCmd = cmd;  // no reconnects from here on
      w->backoff.clear();
      for (Conn& c : w->conns) closeConn(&c);
      uv_timer_stop(&w->tick);
      uv_close(reinterpret_cast<uv_handle_t*>(&w->tick), nullptr);
      w->lastCmd = cmd;
      return;
    }
    w->lastCmd = cmd;
    w->lastGen = gen;
    w->st->generation.store(uint64_t(gen));
  }
  const Options& o = w->opt;
  double share = double(w->count) / double(o.connections);
  if (w->hold && (cmd == kConnect || cmd == kStopRamp) && !w->backoff.empty()) {
    // hold: reconnects that are due, within the bound on connects in flight
    uint32_t nowMs = msNow();
    while (!w->backoff.empty() && w->backoff.front().first <= nowMs && w->pending < o.maxPending) {
      std::pop_heap(w->backoff.begin(), w->backoff.end(), std::greater<>());
      Conn* c = &w->conns[w->backoff.back().second];
      w->backoff.pop_back();
      if (c->state != kFree) continue;
      if (!startConnect(c)) break;
      w->st->reconnects.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (cmd == kConnect || cmd == kChurn) {
    w->rampBudget = std::min(w->rampBudget + o.rate * share * dt, o.rate * share * 0.2 + 1);
    while (w->toConnectPos < w->toConnect.size() && w->rampBudget >= 1 && w->pending < o.maxPending) {
      Conn* c = &w->conns[w->toConnect[w->toConnectPos++]];
      if (c->state != kFree) continue;
      if (!startConnect(c)) break;
      w->rampBudget -= 1;
    }
    if (w->toConnectPos == w->toConnect.size()) {
      w->toConnect.clear();
      w->toConnectPos = 0;
    }
  }
  if (cmd == kPublish && !w->publishers.empty()) {
    uint64_t totalPublishers = (o.connections + o.roomSize - 1) / o.roomSize;
    double myRate = o.pubRate * double(w->publishers.size()) / double(totalPublishers);
    w->pubBudget += myRate * dt;
    while (w->pubBudget >= 1) {
      Conn* c = &w->conns[w->publishers[w->pubRr++ % w->publishers.size()]];
      w->pubBudget -= 1;
      if (c->state == kReady) publishOne(c);
    }
  }
  if (cmd == kChurn) {
    w->churnBudget += o.churnRate * share * dt;
    int guard = 0;
    while (w->churnBudget >= 1 && guard++ < 100000) {
      Conn* c = &w->conns[w->rnd() % w->count];
      if (c->state != kReady) continue;
      w->churnBudget -= 1;
      c->wantReconnect = true;
      closeConn(c);
      w->st->churned.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

[[noreturn]] void runWorker(const Options& opt, uint32_t id, uint32_t first, uint32_t count) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the coordinator
  if (getppid() == 1) _exit(1);
  signal(SIGINT, SIG_IGN);
  signal(SIGUSR1, SIG_IGN);
  Worker w;
  W = &w;
  w.opt = opt;
  w.id = id;
  w.first = first;
  w.count = count;
  w.st = &gStats[id];
  w.rng ^= uint64_t(getpid()) * 0x2545F4914F6CDD1Dull;
  w.conns.resize(count);
  memset(static_cast<void*>(w.conns.data()), 0, sizeof(Conn) * count);
  for (uint32_t i = 0; i < count; ++i) w.conns[i].idx = first + i;
  w.readBuf = static_cast<char*>(malloc(65536));
  w.frameOut.reserve(4096);
  w.lay = makeLayout(opt);
  w.chEpoch.assign(size_t(count) * w.lay.count, 0);
  w.chSeq.assign(size_t(count) * w.lay.count, 0);
  w.roomPrefix = "room:" + opt.runId + "-";
  w.hold = opt.mode == "hold";
  w.msBase = monoNs();
  w.dataSubId = w.lay.data >= 0 ? 2 + uint32_t(w.lay.data) : 0;
  w.loop = uv_default_loop();
  uv_timer_init(w.loop, &w.tick);
  uv_timer_start(&w.tick, onTick, 10, 10);
  uv_run(w.loop, UV_RUN_DEFAULT);
  w.st->exited.store(1);
  _exit(0);
}

// ---------------------------------------------------------------------------------------------
// Coordinator: server-side measurements

std::vector<int> findPids(const std::string& comm) {
  std::vector<int> pids;
  DIR* d = opendir("/proc");
  if (!d) return pids;
  while (dirent* e = readdir(d)) {
    int pid = atoi(e->d_name);
    if (pid <= 0) continue;
    std::ifstream f("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    if (std::getline(f, name) && name == comm.substr(0, 15)) pids.push_back(pid);
  }
  closedir(d);
  std::sort(pids.begin(), pids.end());
  return pids;
}

uint64_t rssBytes(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/statm");
  uint64_t size = 0, rss = 0;
  f >> size >> rss;
  return rss * uint64_t(sysconf(_SC_PAGESIZE));
}

double cpuSeconds(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(f, line);
  size_t rp = line.rfind(')');
  if (rp == std::string::npos) return 0;
  std::istringstream ss(line.substr(rp + 2));
  std::string field;
  uint64_t ut = 0, stt = 0;
  for (int i = 3; i <= 15; ++i) {
    ss >> field;
    if (i == 14) ut = std::stoull(field);
    if (i == 15) stt = std::stoull(field);
  }
  return double(ut + stt) / double(sysconf(_SC_CLK_TCK));
}

uint64_t meminfoKb(const char* key) {
  std::ifstream f("/proc/meminfo");
  std::string k;
  uint64_t v;
  std::string unit;
  while (f >> k >> v) {
    std::getline(f, unit);
    if (k == key) return v;
  }
  return 0;
}

// Sums slab bytes by cache from /proc/slabinfo (root only); empty when unreadable.
bool slabinfoBytes(uint64_t& total, uint64_t& tcp) {
  std::ifstream f("/proc/slabinfo");
  if (!f) return false;
  std::string line;
  total = tcp = 0;
  bool any = false;
  while (std::getline(f, line)) {
    if (line.starts_with("slabinfo") || line.starts_with("#")) continue;
    std::istringstream ss(line);
    std::string name;
    uint64_t active, num, objsize;
    if (!(ss >> name >> active >> num >> objsize)) continue;
    total += num * objsize;
    if (name.find("TCP") != std::string::npos || name.find("sock") != std::string::npos ||
        name == "dentry" || name.starts_with("inode") || name == "filp" || name.starts_with("eventpoll"))
      tcp += num * objsize;
    any = true;
  }
  return any;
}

struct Sample {
  double t;
  uint64_t started, ready, failed, deliveries, pubsOk;
  uint64_t serverRss, slabKb;
  double serverCpu;
  double p50us, p99us;
  uint64_t latCount;
};

struct Coordinator {
  Options o;
  std::vector<pid_t> workers;
  std::vector<uint32_t> firsts, counts;
  std::vector<int> serverPids;
  int hubPid = 0;
  uint64_t t0 = 0;
  std::vector<Sample> samples;
  std::vector<uint64_t> lastHist = std::vector<uint64_t>(kBuckets, 0);
  uint64_t lastSampleNs = 0, lastProgressNs = 0, lastReportNs = 0;
  bool rampDone = false;
  uint64_t heldAfterRamp = 0;
  bool broadcastDone = false;
  std::string phase = "init";
  std::ostringstream json;  // result fields, appended
  bool first = true;

  std::vector<int> allServerPids() const {
    std::vector<int> all = serverPids;
    if (hubPid > 0) all.push_back(hubPid);
    return all;
  }
  uint64_t serverRss() const {
    uint64_t s = 0;
    for (int p : serverPids) s += rssBytes(p);
    return s;
  }
  uint64_t hubRss() const { return hubPid > 0 ? rssBytes(hubPid) : 0; }
  double hubCpu() const { return hubPid > 0 ? cpuSeconds(hubPid) : 0; }
  double serverCpu() const {
    double s = 0;
    for (int p : allServerPids()) s += cpuSeconds(p);
    return s;
  }
  uint64_t sum(std::atomic<uint64_t> WorkerStats::*f) const {
    uint64_t s = 0;
    for (uint32_t i = 0; i < o.workers; ++i) s += (gStats[i].*f).load();
    return s;
  }
  std::vector<uint64_t> hist() const {
    std::vector<uint64_t> h(kBuckets, 0);
    for (uint32_t i = 0; i < o.workers; ++i)
      for (int b = 0; b < kBuckets; ++b) h[b] += gStats[i].hist[b].load(std::memory_order_relaxed);
    return h;
  }
  std::vector<uint64_t> ackHist() const {
    std::vector<uint64_t> h(kBuckets, 0);
    for (uint32_t i = 0; i < o.workers; ++i)
      for (int b = 0; b < kBuckets; ++b) h[b] += gStats[i].ackHist[b].load(std::memory_order_relaxed);
    return h;
  }
  void clearHist() {
    for (uint32_t i = 0; i < o.workers; ++i) {
      for (int b = 0; b < kBuckets; ++b) gStats[i].hist[b].store(0);
      for (int b = 0; b < kBuckets; ++b) gStats[i].ackHist[b].store(0);
      gStats[i].latMax.store(0);
      gStats[i].ackMax.store(0);
    }
    std::fill(lastHist.begin(), lastHist.end(), 0);
  }
  double elapsed() const { return double(monoNs() - t0) / 1e9; }

  void field(const std::string& key, const std::string& rawValue) {
    json << (first ? "" : ",\n") << "  \"" << key << "\": " << rawValue;
    first = false;
  }
  void field(const std::string& key, double v) {
    char b[64];
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) snprintf(b, sizeof b, "%.0f", v);
    else if (std::isfinite(v)) snprintf(b, sizeof b, "%.4g", v);
    else snprintf(b, sizeof b, "null");
    field(key, std::string(b));
  }
  static std::string quote(const std::string& s) {
    std::string r = "\"";
    for (char ch : s) {
      if (ch == '"' || ch == '\\') r += '\\';
      if (uint8_t(ch) < 0x20) { r += ' '; continue; }
      r += ch;
    }
    return r + "\"";
  }

  // The --report snapshot: the wire counts of all workers (see the top of the file), as JSON.
  std::string reportJson() const {
    std::ostringstream j;
    auto wireSum = [&](int kind, std::atomic<uint64_t> WireStats::*f) {
      uint64_t v = 0;
      for (uint32_t i = 0; i < o.workers; ++i) v += (gStats[i].wire[kind].*f).load(std::memory_order_relaxed);
      return v;
    };
    auto errs = [&](int kind) {
      std::string e = "{";
      for (int c = 0; c < kNumErrCodes; ++c) {
        uint64_t v = 0;
        for (uint32_t i = 0; i < o.workers; ++i) v += gStats[i].wire[kind].errs[c].load(std::memory_order_relaxed);
        e += std::string(c ? ", " : "") + "\"" + kErrCodes[c] + "\": " + std::to_string(v);
      }
      return e + "}";
    };
    auto kind = [&](int k) {
      uint64_t msgs = wireSum(k, &WireStats::msgs), dups = wireSum(k, &WireStats::dups);
      std::ostringstream w;
      w << "{\"msgs\": " << msgs << ", \"unique\": " << msgs - std::min(msgs, dups) << ", \"duplicates\": " << dups
        << ", \"gaps\": " << wireSum(k, &WireStats::gaps) << ", \"gap_events\": " << wireSum(k, &WireStats::gapEvents)
        << ", \"epoch_changes\": " << wireSum(k, &WireStats::epochChanges)
        << ", \"resyncs\": " << wireSum(k, &WireStats::resyncs)
        << ", \"not_recovered\": " << wireSum(k, &WireStats::notRecovered)
        << ", \"subs_ok\": " << wireSum(k, &WireStats::subsOk) << ", \"subs_since\": " << wireSum(k, &WireStats::subsSince)
        << ", \"errors\": " << errs(k) << "}";
      return w.str();
    };
    // close codes: merged over the workers' tables
    std::vector<std::pair<uint32_t, uint64_t>> codes;
    uint64_t overflow = 0;
    for (uint32_t i = 0; i < o.workers; ++i) {
      for (int slot = 0; slot < kCloseSlots; ++slot) {
        uint32_t code = gStats[i].closeCode[slot].load(std::memory_order_acquire);
        if (code == 0) break;
        uint64_t n = gStats[i].closeCount[slot].load(std::memory_order_relaxed);
        auto it = std::find_if(codes.begin(), codes.end(), [&](auto& p) { return p.first == code; });
        if (it == codes.end()) codes.emplace_back(code, n);
        else it->second += n;
      }
      overflow += gStats[i].closeOverflow.load(std::memory_order_relaxed);
    }
    std::sort(codes.begin(), codes.end());
    std::string closes = "{";
    for (auto& [code, n] : codes) closes += (closes.size() > 1 ? ", \"" : "\"") + std::to_string(code) + "\": " + std::to_string(n);
    for (int p = 0; p < kNumPseudo; ++p)
      closes += (closes.size() > 1 ? ", \"" : "\"") + std::string(kPseudoCloseNames[p]) + "\": " +
                std::to_string(sum2(&WorkerStats::pseudoCloses, p));
    if (overflow) closes += ", \"other_codes\": " + std::to_string(overflow);
    closes += "}";
    std::vector<uint64_t> h(kBuckets, 0);
    uint64_t maxNs = 0, n = 0;
    for (uint32_t i = 0; i < o.workers; ++i) {
      for (int b = 0; b < kBuckets; ++b) h[b] += gStats[i].resubHist[b].load(std::memory_order_relaxed);
      maxNs = std::max<uint64_t>(maxNs, gStats[i].resubMaxNs.load(std::memory_order_relaxed));
    }
    for (uint64_t c : h) n += c;
    char resub[200];
    snprintf(resub, sizeof resub, "{\"count\": %" PRIu64 ", \"p50\": %.1f, \"p99\": %.1f, \"max\": %.1f}", n,
             percentile(h, 0.5, maxNs) / 1e6, percentile(h, 0.99, maxNs) / 1e6, double(maxNs) / 1e6);
    j << "{\n  \"t\": " << fmtNum(elapsed()) << ",\n  \"mode\": " << quote(o.mode) << ",\n  \"phase\": " << quote(phase)
      << ",\n  \"run_id\": " << quote(o.runId) << ",\n  \"connections\": " << o.connections
      << ",\n  \"user_base\": " << o.userBase << ",\n  \"rooms\": " << (o.roomSize ? o.rooms : 0)
      << ",\n  \"room_size\": " << o.roomSize << ",\n  \"inbox\": " << (o.inbox ? "true" : "false")
      << ",\n  \"also_sub\": " << quote(o.alsoSub)
      << ",\n  \"subscribed\": " << sum(&WorkerStats::ready) << ",\n  \"ramp_done\": " << (rampDone ? "true" : "false")
      << ",\n  \"held_after_ramp\": " << heldAfterRamp
      << ",\n  \"broadcast_done\": " << (broadcastDone ? "true" : "false")
      << ",\n  \"connects_started\": " << sum(&WorkerStats::started)
      << ",\n  \"failed_attempts\": " << sum(&WorkerStats::failed)
      << ",\n  \"reconnects\": " << sum(&WorkerStats::reconnects)
      << ",\n  \"resubscribed\": " << sum(&WorkerStats::resubscribed) << ",\n  \"resubscribe_ms\": " << resub
      << ",\n  \"closes\": " << closes << ",\n  \"inbox_wire\": " << kind(kInbox)
      << ",\n  \"room_wire\": " << kind(kRoom) << ",\n  \"other_request_errors\": " << errs(kOtherRequest)
      << ",\n  \"unexpected_msgs\": " << sum(&WorkerStats::unexpected)
      << ",\n  \"pings_answered\": " << sum(&WorkerStats::pings) << "\n}\n";
    return j.str();
  }
  uint64_t sum2(std::atomic<uint64_t> (WorkerStats::*f)[kNumPseudo], int i) const {
    uint64_t s = 0;
    for (uint32_t w = 0; w < o.workers; ++w) s += (gStats[w].*f)[i].load(std::memory_order_relaxed);
    return s;
  }
  static std::string fmtNum(double v) {
    char b[32];
    snprintf(b, sizeof b, "%.3f", v);
    return b;
  }
  // Written to FILE.tmp and renamed over FILE: a reader sees the previous snapshot or this one.
  void writeReport() {
    if (o.report.empty()) return;
    std::string tmp = o.report + ".tmp";
    FILE* f = fopen(tmp.c_str(), "w");
    if (!f) {
      log("cannot write %s: %s", tmp.c_str(), strerror(errno));
      return;
    }
    std::string body = reportJson();
    bool ok = fwrite(body.data(), 1, body.size(), f) == body.size();
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp.c_str(), o.report.c_str()) != 0) log("cannot write %s: %s", o.report.c_str(), strerror(errno));
  }
  // hold --ready-list: user ids of the connections subscribed now, one per line (tmp + rename).
  void writeReadyList() {
    if (o.readyList.empty()) return;
    std::string tmp = o.readyList + ".tmp";
    FILE* f = fopen(tmp.c_str(), "w");
    if (!f) die("cannot write %s", tmp.c_str());
    uint64_t n = 0;
    for (uint32_t i = 0; i < o.connections; ++i) {
      if (gShared->readyBits()[i / 64].load(std::memory_order_relaxed) & (1ull << (i % 64))) {
        fprintf(f, "%u\n", o.userBase + i);
        ++n;
      }
    }
    if (fclose(f) != 0 || rename(tmp.c_str(), o.readyList.c_str()) != 0) die("cannot write %s", o.readyList.c_str());
    log("ready list: %" PRIu64 " subscribed users in %s", n, o.readyList.c_str());
  }

  // Called often; samples every 500 ms, redraws the progress line every 250 ms (5 s without a
  // terminal) and rewrites --report every 250 ms.
  void poll() {
    uint64_t now = monoNs();
    if (!o.report.empty() && now - lastReportNs >= 250'000'000ull) {
      lastReportNs = now;
      writeReport();
    }
    if (now - lastSampleNs >= 500'000'000ull) {
      lastSampleNs = now;
      Sample s{};
      s.t = elapsed();
      s.started = sum(&WorkerStats::started);
      s.ready = sum(&WorkerStats::ready);
      s.failed = sum(&WorkerStats::failed);
      s.deliveries = sum(&WorkerStats::deliveries);
      s.pubsOk = sum(&WorkerStats::pubsOk);
      s.serverRss = serverRss() + hubRss();
      s.slabKb = meminfoKb("Slab:");
      s.serverCpu = serverCpu();
      std::vector<uint64_t> h = hist();
      std::vector<uint64_t> d(kBuckets);
      uint64_t n = 0;
      for (int b = 0; b < kBuckets; ++b) {
        d[b] = h[b] - std::min(h[b], lastHist[b]);
        n += d[b];
      }
      lastHist = h;
      s.latCount = n;
      s.p50us = n ? percentile(d, 0.5) / 1e3 : NAN;
      s.p99us = n ? percentile(d, 0.99) / 1e3 : NAN;
      samples.push_back(s);
    }
    static const bool tty = isatty(2);
    if (!o.quiet && now - lastProgressNs >= (tty ? 250'000'000ull : 5'000'000'000ull)) {
      lastProgressNs = now;
      const Sample& s = samples.empty() ? Sample{} : samples.back();
      double rate = 0;
      if (samples.size() >= 3) {
        const Sample& a = samples[samples.size() - 3];
        rate = double(s.ready - std::min(s.ready, a.ready)) / (s.t - a.t);
      }
      fprintf(stderr, "%s[%s] %6.1fs ready %" PRIu64 "/%u (%.0f/s) failed %" PRIu64 " deliv %" PRIu64
              " srvRSS %.0f MB slab %.0f MB",
              tty ? "\r\033[K" : "", phase.c_str(), elapsed(), s.ready, o.connections, rate, s.failed, s.deliveries,
              double(s.serverRss) / 1048576.0, double(s.slabKb) / 1024.0);
      if (!tty) fputc('\n', stderr);
      fflush(stderr);
    }
  }
  void sleepFor(double seconds) {
    uint64_t end = monoNs() + uint64_t(seconds * 1e9);
    while (monoNs() < end && !gAbort) {
      poll();
      usleep(20'000);
    }
  }
  void command(int cmd, bool bumpGen = false) {
    if (bumpGen) gShared->generation.fetch_add(1);
    gShared->command.store(cmd);
  }
  void log(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (!o.quiet && isatty(2)) fprintf(stderr, "\r\033[K");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
  }

  // Ramps everybody up; returns a reason when it stopped short.
  std::string rampUp() {
    phase = "connect";
    command(kConnect, true);
    uint64_t start = monoNs();
    uint64_t lastReady = 0, lastProgress = monoNs();
    std::string why;
    while (true) {
      poll();
      uint64_t ready = sum(&WorkerStats::ready);
      if (ready >= o.connections) break;
      if (ready != lastReady) {
        lastReady = ready;
        lastProgress = monoNs();
      }
      double avail = double(meminfoKb("MemAvailable:")) / 1024.0;
      if (avail < o.minAvailMb) {
        char b[160];
        snprintf(b, sizeof b, "MemAvailable %.0f MB < --min-avail-mb %.0f", avail, o.minAvailMb);
        why = b;
        break;
      }
      if ((monoNs() - start) / 1e9 > o.timeout) {
        why = "ramp timeout (--timeout " + std::to_string(int(o.timeout)) + " s)";
        break;
      }
      if (gStopRamp) {
        why = gAbort ? "interrupted" : "stopped by SIGUSR1";
        break;
      }
      if ((monoNs() - lastProgress) / 1e9 > 20) {
        why = "no progress for 20 s";
        break;
      }
      usleep(10'000);
    }
    if (!why.empty()) {
      command(kStopRamp);
      sleepFor(1.0);
    }
    return why;
  }
  bool waitAllClosed(double timeout) {
    uint64_t end = monoNs() + uint64_t(timeout * 1e9);
    while (monoNs() < end) {
      poll();
      if (sum(&WorkerStats::ready) == 0) return true;
      usleep(10'000);
    }
    return false;
  }
  void waitGeneration() {
    int g = gShared->generation.load();
    uint64_t end = monoNs() + 2'000'000'000ull;
    while (monoNs() < end) {
      bool all = true;
      for (uint32_t i = 0; i < o.workers; ++i) all = all && int(gStats[i].generation.load()) == g;
      if (all) return;
      usleep(5'000);
    }
  }

  void writeResult(const std::string& resultJson) {
    if (o.out.empty()) return;
    FILE* f = fopen(o.out.c_str(), "w");
    if (!f) die("cannot write %s", o.out.c_str());
    fprintf(f, "{\n%s,\n  \"samples\": [\n", resultJson.c_str());
    for (size_t i = 0; i < samples.size(); ++i) {
      const Sample& s = samples[i];
      fprintf(f,
              "    {\"t\": %.2f, \"started\": %" PRIu64 ", \"ready\": %" PRIu64 ", \"failed\": %" PRIu64
              ", \"deliveries\": %" PRIu64 ", \"pubs_ok\": %" PRIu64 ", \"server_rss\": %" PRIu64
              ", \"slab_kb\": %" PRIu64 ", \"server_cpu_s\": %.2f, \"lat_n\": %" PRIu64 ", \"p50_us\": %s, \"p99_us\": %s}%s\n",
              s.t, s.started, s.ready, s.failed, s.deliveries, s.pubsOk, s.serverRss, s.slabKb, s.serverCpu,
              s.latCount, std::isnan(s.p50us) ? "null" : std::to_string(s.p50us).c_str(),
              std::isnan(s.p99us) ? "null" : std::to_string(s.p99us).c_str(), i + 1 < samples.size() ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    fclose(f);
    log("wrote %s", o.out.c_str());
  }

  void writePlot() {
    if (o.plot.empty() || samples.empty()) return;
    std::string dat = o.plot + ".dat";
    FILE* f = fopen(dat.c_str(), "w");
    if (!f) return;
    fprintf(f, "# t ready server_rss_mb slab_mb p50_ms p99_ms deliveries_per_s\n");
    for (size_t i = 0; i < samples.size(); ++i) {
      const Sample& s = samples[i];
      double dps = 0;
      if (i > 0) dps = double(s.deliveries - samples[i - 1].deliveries) / (s.t - samples[i - 1].t);
      fprintf(f, "%.2f %" PRIu64 " %.2f %.2f %s %s %.0f\n", s.t, s.ready, double(s.serverRss) / 1048576.0,
              double(s.slabKb) / 1024.0, std::isnan(s.p50us) ? "NaN" : std::to_string(s.p50us / 1e3).c_str(),
              std::isnan(s.p99us) ? "NaN" : std::to_string(s.p99us / 1e3).c_str(), dps);
    }
    fclose(f);
    bool hasLatency = false;
    for (const Sample& s : samples) hasLatency = hasLatency || s.latCount > 0;
    std::string gp = o.plot + ".gp";
    f = fopen(gp.c_str(), "w");
    if (!f) return;
    fprintf(f,
            "set terminal pngcairo size 1100,800 noenhanced\nset output '%s'\nset multiplot layout 2,1 title '%s %s'\n"
            "set grid\nset xlabel 'seconds'\nset ylabel 'MB'\nset y2label 'connections'\nset y2tics\nset ytics nomirror\n"
            "plot '%s' u 1:3 w l lw 2 t 'server RSS (MB)', '' u 1:4 w l lw 2 t 'kernel slab (MB)', '' u 1:2 axes x1y2 w l t 'ready connections'\n"
            "set ylabel 'latency ms'\nset y2label 'deliveries/s'\n%s\n"
            "unset multiplot\n",
            o.plot.c_str(), o.mode.c_str(), o.label.c_str(), dat.c_str(),
            hasLatency ? ("plot '" + dat + "' u 1:5 w lp t 'p50 (ms)', '' u 1:6 w lp t 'p99 (ms)', '' u 1:7 axes x1y2 w l t 'deliveries/s'").c_str()
                       : "set label 1 'no latency samples in this mode' at graph 0.3,0.5\nplot 0 notitle");
    fclose(f);
    std::string cmd = "gnuplot '" + gp + "' 2>&1";
    if (system(cmd.c_str()) != 0) {
      // pngcairo may be missing in gnuplot-nox builds: fall back to the plain png terminal.
      std::string sedCmd = "sed -i 's/pngcairo/png/' '" + gp + "' && gnuplot '" + gp + "'";
      if (system(sedCmd.c_str()) != 0) log("gnuplot failed (install gnuplot-nox); data in %s", dat.c_str());
      else log("wrote %s", o.plot.c_str());
    } else {
      log("wrote %s", o.plot.c_str());
    }
  }
};

std::string fmtd(double v, const char* f = "%.1f") {
  char b[64];
  snprintf(b, sizeof b, f, v);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parseOptions(argc, argv);
  {
    std::ifstream f(o.secretFile);
    if (!std::getline(f, gSecret) || gSecret.empty()) die("cannot read a secret from %s", o.secretFile.c_str());
    while (!gSecret.empty() && (gSecret.back() == '\r' || gSecret.back() == ' ')) gSecret.pop_back();
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGUSR1, [](int) { gStopRamp = 1; });
  auto onInt = [](int) {
    if (gAbort) _exit(130);  // second signal: leave now (workers die with us)
    gStopRamp = 1;
    gAbort = 1;
  };
  signal(SIGINT, onInt);
  signal(SIGTERM, onInt);
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  uint32_t perWorker = (o.connections + o.workers - 1) / o.workers;
  if (perWorker + 64 > rl.rlim_cur)
    die("%u connections per worker exceed the file limit %lu: raise --workers", perWorker, (unsigned long)rl.rlim_cur);

  uint32_t rooms = o.roomSize ? (o.connections + o.roomSize - 1) / o.roomSize : 1;
  size_t shSize = sizeof(Shared) + sizeof(std::atomic<uint32_t>) * rooms;
  shSize = (shSize + 4095) & ~size_t(4095);
  size_t readyBitsOffset = shSize;
  shSize += ((size_t(o.connections) + 63) / 64 * 8 + 4095) & ~size_t(4095);
  size_t total = shSize + sizeof(WorkerStats) * o.workers;
  void* mem = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) die("mmap: %s", strerror(errno));
  memset(mem, 0, total);
  gShared = static_cast<Shared*>(mem);
  gShared->rooms = rooms;
  gShared->readyBitsOffset = readyBitsOffset;
  gStats = reinterpret_cast<WorkerStats*>(static_cast<char*>(mem) + shSize);

  Coordinator co;
  co.o = o;
  if (!o.serverPids.empty()) {
    co.serverPids = o.serverPids;
    co.hubPid = o.hubPid > 0 ? o.hubPid : 0;
  } else {
    co.serverPids = findPids(o.serverName);
    if (o.hubPid > 0) co.hubPid = o.hubPid;
    else if (o.hubPid < 0) {
      auto hubs = findPids("webim-broadcast");
      co.hubPid = hubs.size() == 1 ? hubs[0] : 0;
    }
  }
  co.t0 = monoNs();
  fflush(nullptr);
  uint64_t baseServerRss = co.serverRss(), baseHubRss = co.hubRss(), baseSlabKb = meminfoKb("Slab:");
  uint64_t baseSlabTotal = 0, baseSlabSock = 0;
  bool haveSlabinfo = slabinfoBytes(baseSlabTotal, baseSlabSock);
  uint64_t baseAvailKb = meminfoKb("MemAvailable:");

  for (uint32_t i = 0; i < o.workers; ++i) {
    uint32_t first = uint32_t(uint64_t(o.connections) * i / o.workers);
    uint32_t last = uint32_t(uint64_t(o.connections) * (i + 1) / o.workers);
    pid_t pid = fork();
    if (pid < 0) die("fork: %s", strerror(errno));
    if (pid == 0) runWorker(o, i, first, last - first);
    co.workers.push_back(pid);
  }
  uint64_t genRssBase = 0;
  for (pid_t p : co.workers) genRssBase += rssBytes(p);

  co.log("webim-bench %s: %u connections, %u workers, %u source addresses, %zu targets, server pids %zu (+hub %d), "
         "server RSS %.1f MB before",
         o.mode.c_str(), o.connections, o.workers, o.sources, o.targets.size(), co.serverPids.size(), co.hubPid,
         double(baseServerRss) / 1048576.0);
  co.field("mode", Coordinator::quote(o.mode));
  co.field("label", Coordinator::quote(o.label));
  co.field("connections_target", double(o.connections));
  co.field("room_size", double(o.roomSize));
  co.field("inbox", o.inbox ? "true" : "false");
  co.field("workers", double(o.workers));
  co.field("server_processes", double(co.serverPids.size()));
  co.field("server_rss_before", double(baseServerRss));
  co.field("hub_rss_before", double(baseHubRss));
  co.field("slab_kb_before", double(baseSlabKb));
  int exitCode = 0;

  // ---- ramp (and cycles)
  std::vector<double> cycleRssUp, cycleRssDown;
  std::string stopReason;
  uint64_t held = 0;
  double rampSeconds = 0;
  uint64_t upServerRss = 0, upHubRss = 0, upSlabKb = 0, upSlabTotal = 0, upSlabSock = 0, upAvailKb = 0;
  uint32_t cycles = o.mode == "idle" ? std::max<uint32_t>(1, o.cycles) : 1;
  for (uint32_t cyc = 1; cyc <= cycles; ++cyc) {
    double rs = co.elapsed();
    stopReason = co.rampUp();
    double rampT = co.elapsed() - rs;
    co.phase = "settle";
    co.sleepFor(1.0);
    held = co.sum(&WorkerStats::ready);
    uint64_t rss = co.serverRss();
    cycleRssUp.push_back(double(rss));
    if (cyc == 1) {
      co.rampDone = true;
      co.heldAfterRamp = held;
      rampSeconds = rampT;
      upServerRss = rss;
      upHubRss = co.hubRss();
      upSlabKb = meminfoKb("Slab:");
      upAvailKb = meminfoKb("MemAvailable:");
      slabinfoBytes(upSlabTotal, upSlabSock);
      uint64_t genRss = 0;
      for (pid_t p : co.workers) genRss += rssBytes(p);
      double perConn = held ? (double(upServerRss) - double(baseServerRss)) / double(held) : 0;
      double kernPerConn = held ? (double(upSlabKb) - double(baseSlabKb)) * 1024.0 / double(held) : 0;
      co.log("ramp: %" PRIu64 " connections ready in %.1f s (%.0f/s), failed attempts %" PRIu64 "%s%s", held, rampT,
             double(held) / rampT, co.sum(&WorkerStats::failed), stopReason.empty() ? "" : "; stopped: ",
             stopReason.c_str());
      co.log("server user space: %.1f MB -> %.1f MB = %.0f bytes/connection (%zu frontend processes); hub RSS %.1f -> %.1f MB",
             double(baseServerRss) / 1048576.0, double(upServerRss) / 1048576.0, perConn, co.serverPids.size(),
             double(baseHubRss) / 1048576.0, double(upHubRss) / 1048576.0);
      co.log("kernel slab: +%.1f MB = %.0f bytes/connection (both loopback ends; ~%.0f per side); MemAvailable -%.0f MB "
             "= %.0f bytes/connection all-in (server+generator+kernel)",
             (double(upSlabKb) - double(baseSlabKb)) / 1024.0, kernPerConn, kernPerConn / 2,
             (double(baseAvailKb) - double(upAvailKb)) / 1024.0,
             held ? (double(baseAvailKb) - double(upAvailKb)) * 1024.0 / double(held) : 0);
      co.log("generator RSS: %.1f MB = %.0f bytes/connection", double(genRss) / 1048576.0,
             held ? double(genRss - genRssBase) / double(held) : 0);
      co.field("connections_held", double(held));
      co.field("ramp_seconds", rampT);
      co.field("ramp_rate_per_s", held / std::max(rampT, 1e-9));
      co.field("ramp_stop_reason", Coordinator::quote(stopReason));
      co.field("failed_attempts", double(co.sum(&WorkerStats::failed)));
      co.field("server_rss_connected", double(upServerRss));
      co.field("server_bytes_per_conn", perConn);
      co.field("hub_rss_connected", double(upHubRss));
      co.field("slab_kb_connected", double(upSlabKb));
      co.field("kernel_slab_bytes_per_conn_both_ends", kernPerConn);
      co.field("kernel_slab_bytes_per_conn_server_side_est", kernPerConn / 2);
      co.field("mem_available_drop_bytes_per_conn", held ? (double(baseAvailKb) - double(upAvailKb)) * 1024.0 / double(held) : 0);
      co.field("generator_rss", double(genRss));
      co.field("generator_bytes_per_conn", held ? double(genRss - genRssBase) / double(held) : 0);
      if (haveSlabinfo) {
        co.field("slabinfo_total_bytes_per_conn", held ? (double(upSlabTotal) - double(baseSlabTotal)) / double(held) : 0);
        co.field("slabinfo_sock_bytes_per_conn", held ? (double(upSlabSock) - double(baseSlabSock)) / double(held) : 0);
      }
    }
    if (held < o.connections && stopReason.empty()) stopReason = "not all connections became ready";
    if (o.mode != "idle" && o.mode != "hold") break;
    if (cyc == cycles && !o.broadcastCmd.empty() && !gAbort) {
      co.phase = "broadcast";
      co.clearHist();
      uint64_t t = monoNs();
      std::string cmd = o.broadcastCmd;
      for (size_t at; (at = cmd.find("@T@")) != std::string::npos;) cmd.replace(at, 3, std::to_string(t));
      uint64_t before = co.sum(&WorkerStats::deliveries);
      int rc = system(cmd.c_str());
      double cmdSeconds = double(monoNs() - t) / 1e9;
      uint64_t end = monoNs() + 60'000'000'000ull;
      uint64_t readyNow = co.sum(&WorkerStats::ready);
      while (monoNs() < end && co.sum(&WorkerStats::deliveries) - before < readyNow) {
        co.poll();
        usleep(5'000);
      }
      std::vector<uint64_t> h = co.hist();
      uint64_t got = co.sum(&WorkerStats::deliveries) - before;
      uint64_t maxNs = 0;
      for (uint32_t i = 0; i < o.workers; ++i) maxNs = std::max<uint64_t>(maxNs, gStats[i].latMax.load());
      co.log("broadcast: command exit %d after %.3f s; reached %" PRIu64 "/%" PRIu64 " clients; 50%% in %.1f ms, 99%% in "
             "%.1f ms, 100%% in %.1f ms",
             rc, cmdSeconds, got, readyNow, percentile(h, 0.5, maxNs) / 1e6, percentile(h, 0.99, maxNs) / 1e6,
             double(maxNs) / 1e6);
      co.field("broadcast_reached", double(got));
      co.field("broadcast_targets", double(readyNow));
      co.field("broadcast_cmd_seconds", cmdSeconds);
      co.field("broadcast_ms_50", percentile(h, 0.5, maxNs) / 1e6);
      co.field("broadcast_ms_99", percentile(h, 0.99, maxNs) / 1e6);
      co.field("broadcast_ms_100", got >= readyNow ? double(maxNs) / 1e6 : -1);
      if (got < readyNow) exitCode = 1;
      co.broadcastDone = true;
    }
    if (o.mode == "hold") {
      co.phase = "hold";
      co.writeReadyList();
      co.writeReport();
      co.log("hold: %" PRIu64 " subscribed; holding for %.0f s (or until SIGINT/SIGTERM), reconnecting with since",
             co.sum(&WorkerStats::ready), o.duration);
      co.sleepFor(o.duration);
      break;
    }
    if (cyc == cycles && o.hold > 0) {
      co.phase = "hold";
      co.sleepFor(o.hold);
      co.log("held %.0f s: %" PRIu64 " still ready, %" PRIu64 " closed by the server meanwhile, %" PRIu64 " pings answered",
             o.hold, co.sum(&WorkerStats::ready), co.sum(&WorkerStats::closedAfterReady), co.sum(&WorkerStats::pings));
    }
    if (cycles > 1 || cyc < cycles) {
      co.phase = "drop";
      co.command(kDisconnect, true);
      co.waitGeneration();
      co.waitAllClosed(60);
      co.sleepFor(o.settle);
      double down = double(co.serverRss());
      cycleRssDown.push_back(down);
      co.log("cycle %u/%u: %" PRIu64 " up, server RSS %.1f MB connected, %.1f MB after drop", cyc, cycles, held,
             double(rss) / 1048576.0, down / 1048576.0);
    }
  }
  if (cycles > 1) {
    std::string up = "[", down = "[";
    for (size_t i = 0; i < cycleRssUp.size(); ++i) up += (i ? "," : "") + fmtd(cycleRssUp[i], "%.0f");
    for (size_t i = 0; i < cycleRssDown.size(); ++i) down += (i ? "," : "") + fmtd(cycleRssDown[i], "%.0f");
    co.field("cycle_rss_connected", up + "]");
    co.field("cycle_rss_dropped", down + "]");
    double ratioUp = cycleRssUp.back() / cycleRssUp.front();
    double ratioDown = cycleRssDown.back() / cycleRssDown.front();
    co.field("cycle_rss_ratio_connected", ratioUp);
    co.field("cycle_rss_ratio_dropped", ratioDown);
    bool ok = std::fabs(ratioUp - 1) <= 0.05 && std::fabs(ratioDown - 1) <= 0.05;
    co.field("cycle_rss_within_5pct", ok ? "true" : "false");
    co.log("RSS after cycle %u vs cycle 1: connected %.4f, after drop %.4f -> %s", cycles, ratioUp, ratioDown,
           ok ? "within 5%" : "NOT within 5%");
    if (!ok) exitCode = 1;
  }

  // ---- fanout
  if (o.mode == "fanout") {
    co.phase = "warmup";
    co.command(kPublish);
    co.sleepFor(std::min(2.0, o.duration / 3));
    co.clearHist();
    co.phase = "fanout";
    auto genCpu = [&] {
      double g = 0;
      for (pid_t p : co.workers) g += cpuSeconds(p);
      return g;
    };
    double cpu0 = co.serverCpu(), hub0 = co.hubCpu(), t0 = co.elapsed(), g0 = genCpu();
    uint64_t d0 = co.sum(&WorkerStats::deliveries), p0 = co.sum(&WorkerStats::pubsOk);
    co.sleepFor(o.duration);
    double cpu1 = co.serverCpu(), hub1 = co.hubCpu(), t1 = co.elapsed(), g1 = genCpu();
    uint64_t d1 = co.sum(&WorkerStats::deliveries), p1 = co.sum(&WorkerStats::pubsOk);
    std::vector<uint64_t> h = co.hist(), ah = co.ackHist();
    co.phase = "drain";
    co.command(kStopPublish);
    // Drain: outstanding publishes answered and deliveries settled.
    uint64_t end = monoNs() + 10'000'000'000ull, lastD = 0, stableSince = monoNs();
    while (monoNs() < end) {
      co.poll();
      uint64_t d = co.sum(&WorkerStats::deliveries);
      uint64_t outstanding = co.sum(&WorkerStats::pubsSent) - co.sum(&WorkerStats::pubsOk) - co.sum(&WorkerStats::pubsErr);
      if (d != lastD) {
        lastD = d;
        stableSince = monoNs();
      }
      if (outstanding == 0 && monoNs() - stableSince > 500'000'000ull) break;
      usleep(10'000);
    }
    co.command(kFinalize);
    uint64_t fend = monoNs() + 3'000'000'000ull;
    while (co.sum(&WorkerStats::finalized) < o.workers && monoNs() < fend) usleep(5'000);
    double secs = t1 - t0, cpu = cpu1 - cpu0;
    double dps = double(d1 - d0) / secs;
    uint64_t drops = co.sum(&WorkerStats::drops), expected = co.sum(&WorkerStats::expected);
    uint64_t gaps = co.sum(&WorkerStats::gaps), dups = co.sum(&WorkerStats::dups);
    uint64_t latMax = 0;
    for (uint32_t i = 0; i < o.workers; ++i) latMax = std::max<uint64_t>(latMax, gStats[i].latMax.load());
    double p50 = percentile(h, 0.5, latMax) / 1e3, p99 = percentile(h, 0.99, latMax) / 1e3,
           p999 = percentile(h, 0.999, latMax) / 1e3;
    co.log("fanout: %.0f publishes/s -> %.0f deliveries/s over %.1f s; server CPU %.2f s (%.0f%% of a core) -> %.0f "
           "deliveries per server CPU-second",
           double(p1 - p0) / secs, dps, secs, cpu, cpu / secs * 100, cpu > 0 ? double(d1 - d0) / cpu : 0);
    co.log("latency publish->delivery: p50 %.0f us, p99 %.0f us, p99.9 %.0f us, max %.0f us (%" PRIu64 " samples)", p50,
           p99, p999, double(latMax) / 1e3,
           [&] {
             uint64_t n = 0;
             for (uint64_t c : h) n += c;
             return n;
           }());
    co.log("drops %" PRIu64 " of %" PRIu64 " expected deliveries, gaps %" PRIu64 ", duplicates %" PRIu64
           ", publish errors %" PRIu64 ", resyncs %" PRIu64,
           drops, expected, gaps, dups, co.sum(&WorkerStats::pubsErr), co.sum(&WorkerStats::resyncs));
    co.field("publishes_per_s", double(p1 - p0) / secs);
    co.field("deliveries_per_s", dps);
    co.field("measure_seconds", secs);
    co.field("server_cpu_seconds", cpu);
    co.field("deliveries_per_server_cpu_s", cpu > 0 ? double(d1 - d0) / cpu : 0);
    // The hub's share apart: deliveries per CPU-second of the frontends alone and of everything.
    const double hubCpu = hub1 - hub0, feCpu = cpu - hubCpu;
    co.field("hub_cpu_seconds", hubCpu);
    co.field("frontend_cpu_seconds", feCpu);
    co.field("deliveries_per_frontend_cpu_s", feCpu > 0 ? double(d1 - d0) / feCpu : 0);
    co.log("CPU: frontends %.2f s, hub %.2f s (%.0f%% of the server CPU) -> %.0f deliveries per frontend CPU-second",
           feCpu, hubCpu, cpu > 0 ? hubCpu / cpu * 100 : 0, feCpu > 0 ? double(d1 - d0) / feCpu : 0);
    uint64_t ackMax = 0;
    for (uint32_t i = 0; i < o.workers; ++i) ackMax = std::max<uint64_t>(ackMax, gStats[i].ackMax.load());
    const double ack50 = percentile(ah, 0.5, ackMax) / 1e3, ack99 = percentile(ah, 0.99, ackMax) / 1e3,
                 ack999 = percentile(ah, 0.999, ackMax) / 1e3;
    co.log("publish -> ok (durable ack): p50 %.0f us, p99 %.0f us, p99.9 %.0f us, max %.0f us", ack50, ack99, ack999,
           double(ackMax) / 1e3);
    co.field("ack_us_p50", ack50);
    co.field("ack_us_p99", ack99);
    co.field("ack_us_p999", ack999);
    co.field("ack_us_max", double(ackMax) / 1e3);
    co.field("generator_cpu_seconds", g1 - g0);
    co.log("generator CPU %.2f s (%.0f%% of a core)", g1 - g0, (g1 - g0) / secs * 100);
    co.field("latency_us_p50", p50);
    co.field("latency_us_p99", p99);
    co.field("latency_us_p999", p999);
    co.field("drops", double(drops));
    co.field("expected_deliveries", double(expected));
    co.field("gaps", double(gaps));
    co.field("duplicates", double(dups));
    co.field("publish_errors", double(co.sum(&WorkerStats::pubsErr)));
    co.field("resyncs", double(co.sum(&WorkerStats::resyncs)));
    if (drops > 0 || gaps > 0 || dups > 0) exitCode = 1;
  }

  // ---- churn
  if (o.mode == "churn") {
    co.phase = "churn";
    uint64_t rss0 = co.serverRss(), c0 = co.sum(&WorkerStats::churned), s0 = co.sum(&WorkerStats::started);
    double t0 = co.elapsed(), cpu0 = co.serverCpu();
    co.command(kChurn);
    co.sleepFor(o.duration);
    co.command(kConnect, true);  // let reconnects finish
    co.sleepFor(2.0);
    uint64_t churned = co.sum(&WorkerStats::churned) - c0, started = co.sum(&WorkerStats::started) - s0;
    uint64_t rss1 = co.serverRss();
    double cpu = co.serverCpu() - cpu0;
    uint64_t rmax = 0;
    for (const Sample& s : co.samples) if (s.t >= t0) rmax = std::max(rmax, s.serverRss);
    co.log("churn: %" PRIu64 " disconnect+reconnects in %.1f s (%.0f/s), %" PRIu64 " ready at end; server RSS %.1f -> %.1f MB "
           "(max %.1f MB incl. hub); server CPU %.2f s",
           churned, o.duration, churned / o.duration, co.sum(&WorkerStats::ready), rss0 / 1048576.0, rss1 / 1048576.0,
           rmax / 1048576.0, cpu);
    co.field("churn_reconnects", double(churned));
    co.field("churn_connects_started", double(started));
    co.field("churn_per_s", churned / o.duration);
    co.field("churn_server_rss_start", double(rss0));
    co.field("churn_server_rss_end", double(rss1));
    co.field("churn_server_cpu_seconds", cpu);
    co.field("churn_ready_at_end", double(co.sum(&WorkerStats::ready)));
  }

  co.field("first_ramp_seconds", rampSeconds);
  co.field("server_closes", double(co.sum(&WorkerStats::serverCloses)));
  co.field("last_close_code", double([&] {
             uint64_t c = 0;
             for (uint32_t i = 0; i < o.workers; ++i) c = std::max<uint64_t>(c, gStats[i].lastCloseCode.load());
             return c;
           }()));
  co.field("closed_after_ready", double(co.sum(&WorkerStats::closedAfterReady)));
  co.field("errors", double(co.sum(&WorkerStats::errors)));
  co.field("pings_answered", double(co.sum(&WorkerStats::pings)));
  std::string lastErr;
  for (uint32_t i = 0; i < o.workers; ++i)
    if (gStats[i].lastError[0]) lastErr = std::string(gStats[i].lastError, strnlen(gStats[i].lastError, sizeof gStats[i].lastError));
  co.field("last_error", Coordinator::quote(lastErr));
  if (!lastErr.empty()) co.log("last client-side error: %s", lastErr.c_str());
  if (held < o.connections) exitCode = exitCode ? exitCode : 3;

  {
    // the wire counts (the --report snapshot) in the result and on stderr
    co.phase = "done";
    std::string rep = co.reportJson();
    co.field("wire", rep.substr(0, rep.size() - 1));  // without the trailing newline
    co.writeReport();
    auto num = [&](const std::string& obj, const std::string& key) {
      size_t at = rep.find("\"" + obj + "\": {");
      return at == std::string::npos ? 0 : parseUint(std::string_view(rep).substr(at), "\"" + key + "\": ");
    };
    co.log("wire: inbox msgs %" PRIu64 " (dups %" PRIu64 ", gaps %" PRIu64 ", epoch changes %" PRIu64 ", resyncs %" PRIu64
           "), rooms msgs %" PRIu64 " (dups %" PRIu64 ", gaps %" PRIu64 ", epoch changes %" PRIu64 ", resyncs %" PRIu64
           "); reconnects %" PRIu64 ", resubscribed %" PRIu64 ", unexpected msgs %" PRIu64,
           num("inbox_wire", "msgs"), num("inbox_wire", "duplicates"), num("inbox_wire", "gaps"),
           num("inbox_wire", "epoch_changes"), num("inbox_wire", "resyncs"), num("room_wire", "msgs"),
           num("room_wire", "duplicates"), num("room_wire", "gaps"), num("room_wire", "epoch_changes"),
           num("room_wire", "resyncs"), co.sum(&WorkerStats::reconnects), co.sum(&WorkerStats::resubscribed),
           co.sum(&WorkerStats::unexpected));
  }
  co.writeResult(co.json.str());  // before the workers wind down (closing 1M sockets takes a while)
  co.writePlot();
  co.phase = "exit";
  co.command(kExit);
  for (pid_t p : co.workers) {
    int status = 0;
    uint64_t end = monoNs() + 5'000'000'000ull;
    while (waitpid(p, &status, WNOHANG) == 0) {
      if (monoNs() > end) {
        kill(p, SIGKILL);
        waitpid(p, &status, 0);
        break;
      }
      usleep(10'000);
    }
  }
  return exitCode;
}
