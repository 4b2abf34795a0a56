#include "common/endpoint.h"

namespace webim {

bool isPeerEndpoint(std::string_view endpoint) noexcept {
  for (std::string_view scheme : {"tcp://", "ipc://"}) {
    if (endpoint.size() > scheme.size() && endpoint.substr(0, scheme.size()) == scheme) return true;
  }
  return false;
}

bool isLoopbackEndpoint(std::string_view endpoint) noexcept {
  if (endpoint.substr(0, 6) == "ipc://") return true;
  if (endpoint.substr(0, 6) != "tcp://") return false;
  std::string_view address = endpoint.substr(6);
  // tcp://interface;peer forms and wildcards ("*", 0.0.0.0) are not loopback.
  if (address.substr(0, 4) == "127.") return true;
  if (address.substr(0, 10) == "localhost:") return true;
  if (address.substr(0, 6) == "[::1]:") return true;
  return false;
}

bool isZ85Key(std::string_view key) noexcept {
  static constexpr std::string_view kAlphabet =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
  if (key.size() != 40) return false;
  for (char c : key) {
    if (kAlphabet.find(c) == std::string_view::npos) return false;
  }
  return true;
}

}  // namespace webim
