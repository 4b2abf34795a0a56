// A peer of the hub at the wire level, for peer_auth.test.mjs: plays a frontend with a given CURVE
// key pair against a hub's frontend ingress (DEALER) and publish socket (SUB), and reports what the
// hub let it do. It subscribes to CHANNEL, the kick topic and its own inbox topic, then sends hello,
// publish, history, attach (USER's inbox) and kick (USER), and collects replies and deliveries for
// MS milliseconds. Prints one JSON line:
//   {"replies":{"hello":"hub_info","publish":"publish_ack",...},"deliveries":N,"syncs":N,"kicks":N}
// (a request without a reply is absent from "replies"; an error reply shows as "error:CODE").
// Usage: peer_probe INGRESS PUB SERVER_KEY SECRET_KEY_FILE CHANNEL USER MS
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <string>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "proto/webim.pb.h"

namespace {

std::string replyKind(const webim::wire::HubReply& r) {
  if (r.has_error()) return "error:" + r.error().code();
  if (r.has_publish_ack()) return "publish_ack";
  if (r.has_history()) return "history";
  if (r.has_attached()) return "attached";
  if (r.has_hub_info()) return "hub_info";
  return "ok";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 8) {
    std::cerr << "usage: peer_probe INGRESS PUB SERVER_KEY SECRET_KEY_FILE CHANNEL USER MS\n";
    return 2;
  }
  const std::string ingress = argv[1], pub = argv[2], serverKey = argv[3], channel = argv[5], user = argv[6];
  const auto window = std::chrono::milliseconds(std::stoi(argv[7]));
  std::ifstream keyFile(argv[4]);
  std::string secretKey;
  std::getline(keyFile, secretKey);
  char publicKey[41];
  if (secretKey.size() != 40 || zmq_curve_public(publicKey, secretKey.c_str()) != 0) {
    std::cerr << "peer_probe: " << argv[4] << " holds no Z85 secret key\n";
    return 2;
  }
  zmq::context_t ctx;
  zmq::socket_t sub(ctx, zmq::socket_type::sub), dealer(ctx, zmq::socket_type::dealer);
  for (zmq::socket_t* s : {&sub, &dealer}) {
    s->set(zmq::sockopt::linger, 0);
    s->set(zmq::sockopt::curve_serverkey, serverKey);
    s->set(zmq::sockopt::curve_publickey, std::string(publicKey));
    s->set(zmq::sockopt::curve_secretkey, secretKey);
  }
  sub.connect(pub);
  dealer.connect(ingress);
  sub.set(zmq::sockopt::subscribe, channel + std::string(1, '\0'));
  sub.set(zmq::sockopt::subscribe, std::string("!kick") + std::string(1, '\0'));
  sub.set(zmq::sockopt::subscribe, std::string("!fe:probe") + std::string(1, '\0'));

  const uint64_t boot = 0x5eed;
  std::map<uint64_t, std::string> names = {{1, "hello"}, {2, "publish"}, {3, "history"}, {4, "attach"}, {5, "kick"}};
  std::vector<webim::wire::FrontendRequest> requests(5);
  requests[0].mutable_hello()->set_frontend_id("probe");
  requests[0].mutable_hello()->set_boot_id(boot);
  auto* p = requests[1].mutable_publish();
  p->set_channel(channel);
  p->set_from("mallory");
  p->set_cid("probe-" + std::to_string(std::chrono::system_clock::now().time_since_epoch().count()));
  p->set_data(R"("forged")");
  requests[2].mutable_history()->set_channel(channel);
  requests[2].mutable_history()->set_after(0);
  requests[2].mutable_history()->set_limit(10);
  requests[3].mutable_attach()->set_frontend_id("probe");
  requests[3].mutable_attach()->set_boot_id(boot);
  requests[3].mutable_attach()->add_users(user);
  requests[4].mutable_kick()->set_user(user);
  requests[4].mutable_kick()->set_code(4003);
  requests[4].mutable_kick()->set_reason("probe");
  for (size_t i = 0; i < requests.size(); ++i) {
    requests[i].set_req_id(i + 1);
    // Queued until the connection is up (never, if the hub refuses the handshake).
    (void)dealer.send(zmq::buffer(requests[i].SerializeAsString()), zmq::send_flags::dontwait);
  }

  std::map<std::string, std::string> replies;
  int deliveries = 0, syncs = 0, kicks = 0;
  const auto deadline = std::chrono::steady_clock::now() + window;
  zmq::pollitem_t items[] = {{dealer.handle(), 0, ZMQ_POLLIN, 0}, {sub.handle(), 0, ZMQ_POLLIN, 0}};
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    zmq::poll(items, 2, left);
    std::vector<zmq::message_t> frames;
    if (items[0].revents & ZMQ_POLLIN) {
      (void)zmq::recv_multipart(dealer, std::back_inserter(frames));
      webim::wire::HubReply reply;
      if (!frames.empty() && reply.ParseFromString(frames.back().to_string()) && names.count(reply.req_id())) {
        replies[names[reply.req_id()]] = replyKind(reply);
      }
      frames.clear();
    }
    if (items[1].revents & ZMQ_POLLIN) {
      (void)zmq::recv_multipart(sub, std::back_inserter(frames));
      if (frames.size() == 2) {
        if (frames[0].to_string_view().substr(0, 5) == "!kick") {
          ++kicks;
        } else {
          webim::wire::Delivery d;
          if (d.ParseFromString(frames[1].to_string())) (d.sync() ? syncs : deliveries)++;
        }
      }
    }
  }
  std::cout << "{\"replies\":{";
  bool first = true;
  for (const auto& [name, kind] : replies) {
    std::cout << (first ? "" : ",") << "\"" << name << "\":\"" << kind << "\"";
    first = false;
  }
  std::cout << "},\"deliveries\":" << deliveries << ",\"syncs\":" << syncs << ",\"kicks\":" << kicks << "}\n";
  return 0;
}
