#include "common/program/curve.h"

#include <fstream>
#include <utility>

#include "common/endpoint.h"

namespace webim {

std::string readCurveSecretKey(const std::string& path, const std::string& setting, std::string& key) {
  std::ifstream in(path);
  if (!in) return setting + ": cannot read '" + path + "'";
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (!isZ85Key(line) || curvePublicKeyOf(line).empty()) {
    return setting + ": '" + path + "' must hold a 40-character Z85 secret key (webim-broadcast keygen)";
  }
  key = line;
  return {};
}

std::string curvePublicKeyOf(const std::string& secretKey) {
  char publicKey[41];
  if (zmq_curve_public(publicKey, secretKey.c_str()) != 0) return {};
  return publicKey;
}

std::string useCurveClient(zmq::socket_t& socket, const std::string& serverKey, const std::string& secretKey) {
  static const std::pair<std::string, std::string> ephemeral = [] {
    char publicKey[41];
    char secret[41];
    if (zmq_curve_keypair(publicKey, secret) != 0) throw zmq::error_t();
    return std::pair<std::string, std::string>(publicKey, secret);
  }();
  const bool own = !secretKey.empty();
  const std::string publicKey = own ? curvePublicKeyOf(secretKey) : ephemeral.first;
  if (publicKey.empty()) throw zmq::error_t();
  socket.set(zmq::sockopt::curve_serverkey, serverKey);
  socket.set(zmq::sockopt::curve_publickey, publicKey);
  socket.set(zmq::sockopt::curve_secretkey, own ? secretKey : ephemeral.second);
  return publicKey;
}

}  // namespace webim
