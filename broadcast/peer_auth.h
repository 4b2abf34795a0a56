// Peer authentication of the hub (docs/configuration.md, "Who may connect"): which CURVE client
// keys the hub admits on which socket, and the ZAP protocol (ZeroMQ RFC 27) that libzmq asks it
// through. Pure: parsing, decoding, deciding and rate-limiting log lines; the socket that serves
// ZAP is in zap_server.h.
//
// Two allow-lists, one per kind of peer: frontends (admitted on hub_ingress and hub_pub) and apps
// (the PHP app, `webim-broadcast request`: admitted on app_ingress). A frontend key does not open
// the app ingress and an app key does not open the frontend sockets, so a leaked app key cannot
// subscribe to the live stream, attach inboxes or take a frontend's id.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace webim::hub {

// ZMQ_ZAP_DOMAIN of each hub socket: names the setting of the endpoint, for decisions and logs.
inline constexpr std::string_view kZapDomainApp = "app_ingress";
inline constexpr std::string_view kZapDomainIngress = "hub_ingress";
inline constexpr std::string_view kZapDomainPub = "hub_pub";

// A set of CURVE public keys. The file format: one Z85 key (40 characters) per line, optionally
// followed by blanks and a '#' comment; empty lines and lines starting with '#' are comments (no
// Z85 key starts with '#': its first group would exceed 32 bits).
class AllowList {
 public:
  // nullopt with `error` ("line N: ...") for a line that is neither a key nor a comment, or a file
  // holding no key at all.
  static std::optional<AllowList> parse(std::string_view text, std::string& error);

  bool contains(std::string_view binaryKey) const { return keys_.count(std::string(binaryKey)) > 0; }
  size_t size() const noexcept { return keys_.size(); }

 private:
  std::unordered_set<std::string> keys_;  // 32-byte binary keys
};

struct PeerLists {
  std::shared_ptr<const AllowList> frontends;  // hub_ingress, hub_pub; null: any CURVE client
  std::shared_ptr<const AllowList> apps;       // app_ingress; null: any CURVE client
};

struct ZapRequest {
  std::string version;
  std::string requestId;
  std::string domain;
  std::string address;
  std::string identity;
  std::string mechanism;
  std::vector<std::string> credentials;
};

// RFC 27 request frames (what a REP socket receives). nullopt with `error` for a malformed request;
// `requestIdOut` is still set when the frames carry one, so the reply can name it.
std::optional<ZapRequest> decodeZapRequest(const std::vector<std::string_view>& frames, std::string& error,
                                           std::string& requestIdOut);

struct ZapDecision {
  bool admitted = false;
  std::string statusCode;  // "200" admitted, "400" refused, "500" malformed request
  std::string statusText;
  std::string userId;     // the client's key (Z85) when admitted: the connection's User-Id property
  std::string clientKey;  // the key presented (Z85), empty when none: for the log
};

ZapDecision decideZap(const ZapRequest& request, const PeerLists& lists);

// The RFC 27 reply frames: version, request id, status code, status text, user id, metadata (empty).
std::vector<std::string> encodeZapReply(std::string_view requestId, const ZapDecision& decision);

// A flood of refused handshakes (a misconfigured frontend reconnects every second or two, an
// attacker faster) must not flood the log: the first refusal is logged at once, later ones at most
// once per interval, each line counting the refusals it stands for.
class RefusalLog {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RefusalLog(Clock::duration interval = std::chrono::seconds(10)) : interval_(interval) {}

  // A refusal described by `what`: the line to log now, or nullopt (counted for a later line).
  std::optional<std::string> refused(Clock::time_point now, std::string_view what);
  // Called from time to time: the line for refusals not logged yet, once the interval has passed.
  std::optional<std::string> flush(Clock::time_point now);

 private:
  std::string line(std::string_view what);
  Clock::duration interval_;
  Clock::time_point nextLine_{};
  bool any_ = false;
  uint64_t held_ = 0;      // refusals since the last line, not logged
  std::string lastHeld_;   // the latest of them
};

}  // namespace webim::hub
