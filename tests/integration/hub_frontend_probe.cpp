// Frontend-side probe for the hub e2e test (hub_e2e.sh): plays one frontend against a running
// webim-broadcast: SUB to a topic (expects a sync marker), hello, publish, duplicate publish,
// history over the frontend ingress (protobuf), and the live delivery on the XPUB.
// Usage: hub_frontend_probe HUB_INGRESS HUB_PUB CHANNEL. Exit 0 when every check passed.
#include <chrono>
#include <iostream>
#include <string>
#include <iterator>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "proto/webim.pb.h"

namespace {

constexpr std::chrono::milliseconds kDeadline{3000};

[[noreturn]] void fail(const std::string& what) {
  std::cerr << "FAIL: " << what << "\n";
  std::exit(1);
}

void expect(bool ok, const std::string& what) {
  if (!ok) fail(what);
  std::cout << "ok - " << what << "\n";
}

std::vector<zmq::message_t> recvWithin(zmq::socket_t& s) {
  zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, kDeadline) == 0) fail("no message within deadline");
  std::vector<zmq::message_t> frames;
  if (!zmq::recv_multipart(s, std::back_inserter(frames))) fail("recv failed");
  return frames;
}

webim::wire::HubReply call(zmq::socket_t& dealer, const webim::wire::FrontendRequest& req) {
  dealer.send(zmq::buffer(req.SerializeAsString()), zmq::send_flags::none);
  auto frames = recvWithin(dealer);
  webim::wire::HubReply reply;
  if (!reply.ParseFromString(frames.back().to_string())) fail("reply is not a HubReply");
  if (reply.req_id() != req.req_id()) fail("reply req_id mismatch");
  return reply;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) fail("usage: hub_frontend_probe HUB_INGRESS HUB_PUB CHANNEL");
  const std::string channel = argv[3];
  const std::string topic(channel.c_str(), channel.size() + 1);  // channel + '\0'
  zmq::context_t ctx;
  zmq::socket_t sub(ctx, zmq::socket_type::sub), dealer(ctx, zmq::socket_type::dealer);
  for (zmq::socket_t* s : {&sub, &dealer}) s->set(zmq::sockopt::linger, 0);
  sub.set(zmq::sockopt::sndhwm, 0);  // docs/architecture.md: a SUB drops subscriptions past its HWM
  sub.connect(argv[2]);
  dealer.connect(argv[1]);
  sub.set(zmq::sockopt::subscribe, topic);

  webim::wire::Delivery d;
  auto frames = recvWithin(sub);
  expect(frames.size() == 2 && frames[0].to_string() == topic, "XPUB frames are [channel\\0][payload]");
  expect(d.ParseFromString(frames[1].to_string()) && d.sync(), "a subscribe is answered with sync");
  const uint64_t lastBefore = d.seq();

  webim::wire::FrontendRequest req;
  req.set_req_id(1);
  req.mutable_hello()->set_frontend_id("probe-1");
  expect(!call(dealer, req).has_error(), "hello is acknowledged");

  req.Clear();
  req.set_req_id(2);
  auto* p = req.mutable_publish();
  p->set_channel(channel);
  p->set_from("42");
  // Unique per run, so a second run against the same hub is a new publish.
  p->set_cid("probe-" + std::to_string(std::chrono::system_clock::now().time_since_epoch().count()));
  p->set_data(R"({"k": [1, 2], "big": 18446744073709551615})");
  auto ack = call(dealer, req);
  expect(ack.has_publish_ack() && ack.publish_ack().seq() == lastBefore + 1, "publish is acked with the next seq");
  if (d.epoch() != 0) expect(ack.publish_ack().epoch() == d.epoch(), "ack epoch matches the sync");

  frames = recvWithin(sub);
  expect(d.ParseFromString(frames[1].to_string()) && !d.sync() && d.seq() == ack.publish_ack().seq() &&
             d.from() == "42" && d.data() == p->data() && d.ts_ms() > 0,
         "the live delivery carries seq, from, ts and data verbatim");

  req.set_req_id(3);
  auto dup = call(dealer, req);
  expect(dup.has_publish_ack() && dup.publish_ack().seq() == ack.publish_ack().seq(), "a retried cid gets the first seq");

  req.Clear();
  req.set_req_id(4);
  req.mutable_history()->set_channel(channel);
  req.mutable_history()->set_before(ack.publish_ack().seq() + 1);
  req.mutable_history()->set_limit(1);
  auto hist = call(dealer, req);
  expect(hist.has_history() && hist.history().msgs_size() == 1 &&
             hist.history().msgs(0).seq() == ack.publish_ack().seq() &&
             hist.history().last_seq() == ack.publish_ack().seq() &&
             hist.history().more() == (lastBefore > 0),
         "history over the frontend ingress");

  req.Clear();
  req.set_req_id(5);
  req.mutable_publish()->set_channel("bad channel");
  req.mutable_publish()->set_from("42");
  req.mutable_publish()->set_data("1");
  auto bad = call(dealer, req);
  expect(bad.has_error() && bad.error().code() == "bad_request", "an invalid channel is bad_request");
  std::cout << "frontend probe passed\n";
  return 0;
}
