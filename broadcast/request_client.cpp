#include "broadcast/request_client.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

namespace webim::hub {

int runRequest(const RequestOptions& options) {
  try {
    zmq::context_t context(1);
    zmq::socket_t dealer(context, zmq::socket_type::dealer);
    dealer.set(zmq::sockopt::linger, 0);  // an unanswered request must not hold the exit
    dealer.set(zmq::sockopt::sndhwm, 1);
    dealer.set(zmq::sockopt::rcvhwm, 1);
    if (!options.serverKey.empty()) {  // CURVE client: our own key pair, else a throwaway one
      char publicKey[41];
      char secretKey[41];
      if (!options.curveSecretKey.empty()) {
        std::snprintf(secretKey, sizeof secretKey, "%s", options.curveSecretKey.c_str());
        if (zmq_curve_public(publicKey, secretKey) != 0) throw zmq::error_t();
      } else if (zmq_curve_keypair(publicKey, secretKey) != 0) {
        throw zmq::error_t();
      }
      dealer.set(zmq::sockopt::curve_serverkey, options.serverKey);
      dealer.set(zmq::sockopt::curve_publickey, publicKey);
      dealer.set(zmq::sockopt::curve_secretkey, secretKey);
    }
    dealer.connect(options.appIngress);
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
    return 0;
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
