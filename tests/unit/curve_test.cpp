#include "common/program/curve.h"

#include <catch2/catch.hpp>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

using namespace webim;

namespace {

std::string writeFile(const std::string& text) {
  const std::string path = "curve_test." + std::to_string(::getpid()) + ".key";  // test cases run concurrently
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST_CASE("curve: key files hold one Z85 secret key that libzmq accepts", "[curve]") {
  char publicKey[41];
  char secretKey[41];
  REQUIRE(zmq_curve_keypair(publicKey, secretKey) == 0);
  std::string key;
  const std::string path = writeFile(std::string(secretKey) + " \r\n");
  CHECK(readCurveSecretKey(path, "--x", key).empty());
  CHECK(key == secretKey);
  CHECK(curvePublicKeyOf(key) == publicKey);
  for (const std::string& bad : {std::string(""), std::string(secretKey).substr(1), std::string(40, '#')}) {
    writeFile(bad + "\n");
    std::string untouched = "before";
    const std::string error = readCurveSecretKey(path, "--x", untouched);
    CHECK(error == "--x: '" + path + "' must hold a 40-character Z85 secret key (webim-broadcast keygen)");
    CHECK(untouched == "before");
  }
  std::remove(path.c_str());
  CHECK(readCurveSecretKey(path, "--x", key) == "--x: cannot read '" + path + "'");
}

TEST_CASE("curve: a client with its own key pair or a throwaway one completes the handshake", "[curve]") {
  char serverPublic[41];
  char serverSecret[41];
  REQUIRE(zmq_curve_keypair(serverPublic, serverSecret) == 0);
  char clientPublic[41];
  char clientSecret[41];
  REQUIRE(zmq_curve_keypair(clientPublic, clientSecret) == 0);

  zmq::context_t context;
  zmq::socket_t server(context, zmq::socket_type::router);
  server.set(zmq::sockopt::curve_server, 1);
  server.set(zmq::sockopt::curve_secretkey, std::string(serverSecret));
  server.set(zmq::sockopt::linger, 0);
  server.bind("tcp://127.0.0.1:*");
  const std::string endpoint = server.get(zmq::sockopt::last_endpoint);

  std::string throwaway;
  for (const std::string& secret : {std::string(clientSecret), std::string()}) {
    zmq::socket_t client(context, zmq::socket_type::dealer);
    client.set(zmq::sockopt::linger, 0);
    const std::string presented = useCurveClient(client, serverPublic, secret);
    if (secret.empty()) {
      CHECK(presented != clientPublic);
      throwaway = presented;
    } else {
      CHECK(presented == clientPublic);
    }
    client.connect(endpoint);
    client.send(zmq::str_buffer("hello"), zmq::send_flags::none);
    zmq::message_t identity;
    zmq::message_t body;
    server.set(zmq::sockopt::rcvtimeo, 5000);
    REQUIRE(server.recv(identity));
    REQUIRE(server.recv(body));
    CHECK(body.to_string() == "hello");
  }
  // One throwaway pair per process.
  zmq::socket_t again(context, zmq::socket_type::dealer);
  CHECK(useCurveClient(again, serverPublic, "") == throwaway);
}
