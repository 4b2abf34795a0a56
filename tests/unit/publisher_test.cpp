// The hub's publish socket (Publisher) against a real SUB socket over inproc, where the test decides
// when the frontend reads: the syncs after writes must reach a frontend whose pipe overflowed in the
// very burst they follow (docs/architecture.md "Gap filling").
#include "broadcast/publisher.h"

#include <algorithm>
#include <catch2/catch.hpp>

#include "broadcast/inbox_router.h"
#include "proto/webim.pb.h"

using namespace webim;
using namespace webim::hub;

namespace {

struct PubSub {
  zmq::context_t context;
  zmq::socket_t pub{context, zmq::socket_type::xpub};
  zmq::socket_t sub{context, zmq::socket_type::sub};
  InboxRouter inboxes;

  // A pipe of a few messages (the XPUB's send HWM plus the SUB's receive HWM over inproc).
  explicit PubSub(const std::string& channel) {
    pub.set(zmq::sockopt::sndhwm, 4);
    pub.set(zmq::sockopt::linger, 0);
    pub.bind("inproc://publisher-test");
    sub.set(zmq::sockopt::rcvhwm, 1);
    sub.set(zmq::sockopt::linger, 0);
    sub.connect("inproc://publisher-test");
    sub.set(zmq::sockopt::subscribe, channel + std::string(1, '\0'));
    zmq::message_t subscription;  // the hub reads it (Hub::drainSubscriptions): the topic matches from now on
    zmq::pollitem_t item{pub.handle(), 0, ZMQ_POLLIN, 0};
    REQUIRE(zmq::poll(&item, 1, std::chrono::milliseconds(5000)) == 1);
    REQUIRE(pub.recv(subscription, zmq::recv_flags::dontwait));
  }

  // Everything queued for the frontend: it reads as fast as it can.
  std::vector<wire::Delivery> read() {
    std::vector<wire::Delivery> out;
    zmq::message_t topic;
    zmq::message_t payload;
    while (sub.recv(topic, zmq::recv_flags::dontwait)) {
      REQUIRE(topic.more());
      REQUIRE(sub.recv(payload, zmq::recv_flags::dontwait));
      REQUIRE(out.emplace_back().ParseFromArray(payload.data(), static_cast<int>(payload.size())));
    }
    return out;
  }
};

StoredMessage message(const std::string& channel, uint64_t seq) {
  return StoredMessage{channel, 7, seq, "writer", 0, "{\"i\":" + std::to_string(seq) + "}"};
}

}  // namespace

TEST_CASE("the sync after a burst reaches a frontend whose pipe overflowed in that burst", "[publisher]") {
  PubSub link("room:1");
  Publisher publisher(link.pub, link.inboxes);
  std::vector<StoredMessage> burst;
  for (uint64_t seq = 1; seq <= 20; ++seq) burst.push_back(message("room:1", seq));
  publisher.publishMessages(burst);  // past the pipe's HWM: the tail is dropped for this frontend

  const auto position = [](const std::string&) { return std::optional<ChannelMeta>(ChannelMeta{7, 20}); };
  // A busy hub runs its round right after publishing the batch, before the frontend read anything:
  // ZeroMQ still counts the pipe as full and skips it, even for a send with ZMQ_XPUB_NODROP.
  CHECK(publisher.syncWritten(position) == 0);
  std::vector<wire::Delivery> got = link.read();
  REQUIRE(!got.empty());
  CHECK(got.back().seq() < 20);  // the tail was dropped: only a sync can reveal it
  // The frontend has read (it drained the pipe); the next rounds.
  for (int round = 1; round < SyncSchedule::kRounds + 2; ++round) {
    publisher.syncWritten(position);
    for (wire::Delivery& d : link.read()) got.push_back(std::move(d));
  }
  const bool synced = std::any_of(got.begin(), got.end(), [](const wire::Delivery& d) { return d.sync() && d.seq() == 20; });
  CHECK(synced);
}

TEST_CASE("syncs after writes go out whole while the pipe has room", "[publisher]") {
  PubSub link("room:2");
  Publisher publisher(link.pub, link.inboxes);
  publisher.publishMessages({message("room:2", 1)});
  const auto position = [](const std::string&) { return std::optional<ChannelMeta>(ChannelMeta{7, 1}); };
  for (int round = 0; round < SyncSchedule::kRounds + 1; ++round) CHECK(publisher.syncWritten(position) == 0);
  std::vector<wire::Delivery> got = link.read();
  REQUIRE(got.size() == 1 + static_cast<size_t>(SyncSchedule::kRounds));  // the message, then one sync per round
  CHECK((!got[0].sync() && got[0].seq() == 1));
  for (size_t i = 1; i < got.size(); ++i) CHECK((got[i].sync() && got[i].seq() == 1 && got[i].epoch() == 7));
}
