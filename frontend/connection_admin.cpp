// The operator's endpoints (docs/deploy.md "Metrics and health"):
//   GET /healthz  liveness: the loop answers ("ok"), on both listeners;
//   GET /readyz   "ready", or 503 with the reason (a hub link down, draining, starting), on both
//                 listeners: load balancers ask the public one;
//   GET /metrics  Prometheus text, and POST /api/... (the app's HTTP API): on the private listener
//                 (admin_listen) only, unless public_admin is set.
// The private listener serves nothing else.
#include "frontend/connection.h"
#include "frontend/frontend.h"

namespace webim {

namespace {
constexpr const char* kText = "text/plain";
}  // namespace

bool Connection::isOperatorPath(std::string_view path) noexcept {
  return path == "/healthz" || path == "/readyz" || path == "/metrics" || path.substr(0, 5) == "/api/";
}

void Connection::serveOperator(const HttpRequest& request, std::string_view rest) {
  std::string_view path = request.path();
  const bool privateOnly = path == "/metrics" || path.substr(0, 5) == "/api/";
  if (!isOperatorPath(path) || (privateOnly && !privateListener_ && !frontend().config().publicAdmin)) {
    finishHttp(httpResponse(404, kText, "not found\n"));
    return;
  }
  frontend().metrics().httpRequests++;
  if (path.substr(0, 5) == "/api/") {
    serveApi(request, rest);
    return;
  }
  if (request.method != "GET" && request.method != "HEAD") {
    finishHttp(httpResponse(405, kText, "method not allowed\n"));
    return;
  }
  if (path == "/healthz") {
    finishHttp(httpResponse(200, kText, "ok\n"));
  } else if (path == "/readyz") {
    std::string reason = frontend().notReadyReason();
    finishHttp(reason.empty() ? httpResponse(200, kText, "ready\n")
                              : httpResponse(503, kText, reason + "\n"));
  } else {
    finishHttp(httpResponse(200, "text/plain; version=0.0.4", frontend().renderMetrics()));
  }
}

}  // namespace webim
