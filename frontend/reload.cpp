// SIGHUP (docs/deploy.md "Stopping, draining, reloading"): the token secrets, the API keys and the
// allowed origins are read again, as at start (the same --config file and flags), and replace the
// old ones at once; nobody is dropped. Connections already authenticated stay (their token was
// checked when they sent it); every token, session id and API key from now on is checked against
// the new values. Rotating a secret: add the new line and reload, let the app sign with it, remove
// the old line and reload again. If anything cannot be read, or the configuration is invalid, the
// old values stay and one error line says why. The other settings need a restart.
#include <spdlog/spdlog.h>

#include "frontend/frontend.h"

namespace webim {

void Frontend::reload() {
  if (!reloader_) {
    spdlog::warn("SIGHUP: this process cannot reload");
    return;
  }
  FrontendConfig fresh;
  std::string error;
  if (!reloader_(fresh, error)) {
    spdlog::error("reload failed, the old secrets, API keys and origins stay: {}", error);
    return;
  }
  verifier_ = TokenVerifier(fresh.secrets, kTokenLeewaySeconds, config_.maxTokenLifetime);
  sessionIds_ = SessionIds(fresh.secrets, kTokenLeewaySeconds, config_.maxTokenLifetime);
  apiKeys_ = ApiKeys(fresh.apiKeys);
  handshakePolicy_.allowedOrigins = fresh.allowedOrigins;
  handshakePolicy_.allowMissingOrigin = fresh.allowMissingOrigin;
  handshakePolicy_.allowAnyOrigin = fresh.allowAnyOrigin;
  spdlog::info("reloaded: {} token secrets, {} API keys, {} allowed origins", fresh.secrets.size(),
               fresh.apiKeys.size(), fresh.allowedOrigins.size());
}

}  // namespace webim
