#include "broadcast/request_client.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "broadcast/app_request.h"
#include "common/big_endian.h"
#include "common/program/curve.h"

namespace webim::hub {

namespace {

// A DEALER to the app ingress; `hwm` messages may be queued each way.
zmq::socket_t connectDealer(zmq::context_t& context, const RequestOptions& options, int hwm) {
  zmq::socket_t dealer(context, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);  // an unanswered request must not hold the exit
  dealer.set(zmq::sockopt::sndhwm, hwm);
  dealer.set(zmq::sockopt::rcvhwm, hwm);
  if (!options.serverKey.empty()) useCurveClient(dealer, options.serverKey, options.curveSecretKey);
  dealer.connect(options.appIngress);
  return dealer;
}

int runSingle(const RequestOptions& options) {
  zmq::context_t context(1);
  zmq::socket_t dealer = connectDealer(context, options, 1);
  dealer.send(zmq::message_t(), zmq::send_flags::sndmore);
  dealer.send(zmq::buffer(options.json), zmq::send_flags::none);

  zmq::pollitem_t item{dealer.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, std::chrono::milliseconds(options.timeoutMs)) == 0) {
    std::cerr << "webim-broadcast request: no reply from " << options.appIngress << " within "
              << options.timeoutMs << " ms\n";
    return kExitRequestTimeout;
  }
  std::vector<zmq::message_t> frames;
  if (!zmq::recv_multipart(dealer, std::back_inserter(frames)) || frames.empty()) {
    std::cerr << "webim-broadcast request: empty reply\n";
    return kExitRequestTimeout;
  }
  std::cout << frames.back().to_string_view() << "\n";
  return isAppRefusal(frames.back().to_string_view()) ? kExitRequestRefused : 0;
}

// Batch mode (`-` as the request): one request per stdin line, up to kBatchWindow in flight on
// one DEALER. Each request goes out as [tag, empty, body]; the hub echoes every frame before the
// body, so a reply comes back as [tag, empty, reply] and is matched by its tag (replies to
// different channels may overtake each other). Replies are printed one per line in input order.
int runBatch(const RequestOptions& options, std::istream& in) {
  using Clock = std::chrono::steady_clock;
  zmq::context_t context(1);
  zmq::socket_t dealer = connectDealer(context, options, static_cast<int>(kBatchWindow) + 16);
  struct Pending {
    uint64_t line = 0;             // stdin line number, for messages
    Clock::time_point sentAt;
    std::optional<std::string> reply;
  };
  std::map<uint64_t, Pending> inFlight;  // by request number; printed and erased from the front
  uint64_t sent = 0, answered = 0, lineNo = 0;
  bool eof = false, refused = false;
  const auto timeout = std::chrono::milliseconds(options.timeoutMs);

  auto printReady = [&] {
    while (!inFlight.empty() && inFlight.begin()->second.reply) {
      std::cout << *inFlight.begin()->second.reply << "\n";
      inFlight.erase(inFlight.begin());
    }
    std::cout.flush();
  };
  while (true) {
    while (!eof && inFlight.size() < kBatchWindow) {
      std::string line;
      if (!std::getline(in, line)) {
        eof = true;
        break;
      }
      ++lineNo;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank lines are skipped
      uint64_t n = sent++;
      unsigned char tag[8];
      storeBigEndian(tag, n);
      dealer.send(zmq::buffer(tag, sizeof tag), zmq::send_flags::sndmore);
      dealer.send(zmq::message_t(), zmq::send_flags::sndmore);
      dealer.send(zmq::buffer(line), zmq::send_flags::none);
      inFlight[n] = Pending{lineNo, Clock::now(), std::nullopt};
    }
    if (inFlight.empty() && eof) break;
    // The oldest unanswered request sets the deadline (all replies already queued are read first).
    auto oldest = std::find_if(inFlight.begin(), inFlight.end(), [](auto& kv) { return !kv.second.reply; });
    auto wait = oldest == inFlight.end()
                    ? std::chrono::milliseconds(0)
                    : std::chrono::duration_cast<std::chrono::milliseconds>(oldest->second.sentAt + timeout - Clock::now());
    if (wait.count() < 0) wait = std::chrono::milliseconds(0);
    zmq::pollitem_t item{dealer.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, wait);
    while (true) {
      std::vector<zmq::message_t> frames;
      if (!zmq::recv_multipart(dealer, std::back_inserter(frames), zmq::recv_flags::dontwait)) break;
      if (frames.size() != 3 || frames[0].size() != 8) continue;  // not a reply to this batch
      const uint64_t n = loadBigEndian<uint64_t>(static_cast<const unsigned char*>(frames[0].data()));
      auto it = inFlight.find(n);
      if (it == inFlight.end() || it->second.reply) continue;
      std::string reply(frames[2].to_string_view());
      refused = refused || isAppRefusal(reply);
      for (char& ch : reply)
        if (ch == '\n' || ch == '\r') ch = ' ';  // one reply, one line
      it->second.reply = std::move(reply);
      ++answered;
    }
    printReady();
    oldest = std::find_if(inFlight.begin(), inFlight.end(), [](auto& kv) { return !kv.second.reply; });
    if (oldest != inFlight.end() && Clock::now() >= oldest->second.sentAt + timeout) {
      std::cerr << "webim-broadcast request: no reply to request " << oldest->first + 1 << " (stdin line "
                << oldest->second.line << ") from " << options.appIngress << " within " << options.timeoutMs
                << " ms; " << answered << " of " << sent << " sent requests answered"
                << (eof ? "" : ", the rest of stdin not sent") << "\n";
      return kExitRequestTimeout;
    }
  }
  return refused ? kExitRequestRefused : 0;
}

}  // namespace

int runRequest(const RequestOptions& options) {
  try {
    if (options.json == "-") return runBatch(options, std::cin);
    return runSingle(options);
  } catch (const zmq::error_t& e) {
    std::cerr << "webim-broadcast request: " << options.appIngress << ": " << e.what() << "\n";
    return kExitRequestTimeout;
  }
}

int runKeygen(const KeygenOptions& options) {
  char publicKey[41];
  char secretKey[41];
  if (zmq_curve_keypair(publicKey, secretKey) != 0) {
    std::cerr << "webim-broadcast keygen: " << zmq_strerror(zmq_errno()) << " (libzmq without CURVE?)\n";
    return 1;
  }
  if (options.out.empty()) {
    std::cout << "public " << publicKey << "\nsecret " << secretKey << "\n";
    return 0;
  }
  const std::string secretPath = options.out + ".key";
  const std::string publicPath = options.out + ".pub";
  // The secret file is created private before anything is written to it.
  int fd = ::open(secretPath.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::cerr << "webim-broadcast keygen: " << secretPath << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  std::string secretLine = std::string(secretKey) + "\n";
  bool ok = ::write(fd, secretLine.data(), secretLine.size()) == static_cast<ssize_t>(secretLine.size());
  ok = (::close(fd) == 0) && ok;
  std::ofstream pub(publicPath, std::ios::trunc);
  pub << publicKey << "\n";
  if (!ok || !pub) {
    std::cerr << "webim-broadcast keygen: cannot write the key files\n";
    return 1;
  }
  std::cout << "wrote " << secretPath << " (secret: the curve_secret_key_file of the hub, frontend or app it is for) and "
            << publicPath << " (public: for a hub, the frontends' hub_public_key and the shard table's curve_server_key; for a "
               "frontend or an app, a line of the hub's curve_frontend_clients or curve_app_clients)\n";
  return 0;
}

}  // namespace webim::hub
