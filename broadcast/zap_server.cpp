#include "broadcast/zap_server.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <vector>

#include "broadcast/zmq_io.h"

namespace webim::hub {

namespace {

std::string listSetting(std::string_view domain) {
  return domain == kZapDomainApp ? "curve_app_clients" : "curve_frontend_clients";
}

std::string fromWhere(const ZapRequest& r) { return r.address.empty() ? std::string("a local peer") : r.address; }

}  // namespace

ZapServer::ZapServer(zmq::context_t& context, PeerLists lists)
    : rep_(context, zmq::socket_type::rep), lists_(std::move(lists)) {
  rep_.set(zmq::sockopt::linger, 0);
  rep_.bind("inproc://zeromq.zap.01");
}

void ZapServer::serve(size_t max) {
  for (size_t i = 0; i < max; ++i) {
    std::vector<zmq::message_t> frames;
    if (!receiveMessage(rep_, frames)) return;
    std::vector<std::string_view> views;
    views.reserve(frames.size());
    for (const zmq::message_t& f : frames) views.push_back(f.to_string_view());
    std::string error, requestId;
    std::optional<ZapRequest> request = decodeZapRequest(views, error, requestId);
    ZapDecision decision;
    if (!request) {
      decision.statusCode = "500";
      decision.statusText = error;
      ++refused_;
      spdlog::warn("ZAP: malformed request from libzmq: {}", error);
    } else {
      decision = decideZap(*request, lists_);
      if (decision.admitted) {
        ++admitted_;
        spdlog::debug("admitted CURVE client {} on {} from {}", decision.clientKey, request->domain, fromWhere(*request));
      } else {
        ++refused_;
        std::string what = "refused a " + request->mechanism + " client on " + request->domain + " from " +
                           fromWhere(*request) + ": " + decision.statusText;
        if (!decision.clientKey.empty()) {
          what += " (key " + decision.clientKey + "; list it in " + listSetting(request->domain) + " to admit it)";
        }
        if (std::optional<std::string> line = refusalLog_.refused(RefusalLog::Clock::now(), what)) {
          spdlog::warn("{}", *line);
        }
      }
    }
    // REP: the reply goes back to the handshake that asked (lost if that connection closed meanwhile).
    std::vector<std::string> reply = encodeZapReply(requestId, decision);
    for (size_t f = 0; f < reply.size(); ++f) {
      for (;;) {
        try {
          rep_.send(zmq::buffer(reply[f]), f + 1 < reply.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
          break;
        } catch (const zmq::error_t& e) {
          if (e.num() != EINTR) throw;
        }
      }
    }
  }
}

void ZapServer::flushLog() {
  if (std::optional<std::string> line = refusalLog_.flush(RefusalLog::Clock::now())) spdlog::warn("{}", *line);
}

}  // namespace webim::hub
