// CURVE keys (docs/architecture.md "Peer authentication") as both programs use them: key files written by
// `webim-broadcast keygen`, and the client side of a CURVE socket (the frontend's links to its
// hubs, `webim-broadcast request`).
#pragma once

#include <string>

#include <zmq.hpp>

namespace webim {

// Reads the first line of a secret key file (PREFIX.key): "" with `key` set, or one error line
// naming `setting`. The key must be 40 Z85 characters that libzmq accepts as a CURVE secret key.
std::string readCurveSecretKey(const std::string& path, const std::string& setting, std::string& key);

// The public key of a valid secret key (readCurveSecretKey); "" if libzmq refuses it.
std::string curvePublicKeyOf(const std::string& secretKey);

// Makes `socket` (not yet connected) a CURVE client of the server whose public key is `serverKey`.
// Its own key pair: `secretKey` (Z85, from readCurveSecretKey) and the public key derived from it,
// or, when `secretKey` is empty, a throwaway pair made once per process (a server admits it only
// without an allow-list). Returns the public key presented. Throws zmq::error_t.
std::string useCurveClient(zmq::socket_t& socket, const std::string& serverKey, const std::string& secretKey);

}  // namespace webim
