// A publisher for the durability tests (tests/integration/durability.cmake): publishes through the
// hub's app ingress (DEALER, docs/protocol.md section 4) with up to INFLIGHT requests outstanding and
// prints one line per finished request:
//   <cid> <send_ns> <recv_ns> <ok|unavailable|timeout|error:CODE> <seq>
// send_ns / recv_ns are CLOCK_MONOTONIC (system-wide on Linux, so comparable with the sync shim's
// timestamps in the hub process). recv_ns is taken right after the reply was read.
//
// Usage: durability_client ENDPOINT CHANNEL CID_PREFIX COUNT INFLIGHT [PAD_BYTES] [STOP_FILE]
//   COUNT 0: run until STOP_FILE exists (then drain what is in flight, 5 s at most).
//   Every data is {"cid":"<cid>","pad":"xxx..."}, so history can be matched to acks.
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <unordered_map>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

namespace {

uint64_t monoNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

std::string jsonField(const std::string& json, const std::string& name) {
  const std::string key = "\"" + name + "\":";
  size_t p = json.find(key);
  if (p == std::string::npos) return {};
  p += key.size();
  if (p < json.size() && json[p] == '"') {
    size_t end = json.find('"', p + 1);
    return json.substr(p + 1, end - p - 1);
  }
  size_t end = json.find_first_of(",}", p);
  return json.substr(p, end - p);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::cerr << "usage: durability_client ENDPOINT CHANNEL CID_PREFIX COUNT INFLIGHT [PAD_BYTES] [STOP_FILE]\n";
    return 2;
  }
  const std::string endpoint = argv[1], channel = argv[2], prefix = argv[3];
  const uint64_t count = std::strtoull(argv[4], nullptr, 10);
  const size_t inflight = std::strtoul(argv[5], nullptr, 10);
  const size_t pad = argc > 6 ? std::strtoul(argv[6], nullptr, 10) : 0;
  const std::string stopFile = argc > 7 ? argv[7] : "";
  const uint64_t timeoutNs = 10'000'000'000ull;

  zmq::context_t context(1);
  zmq::socket_t dealer(context, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.connect(endpoint);

  struct Pending {
    uint64_t sentNs;
  };
  std::unordered_map<std::string, Pending> pending;  // request id (= cid) -> send time
  uint64_t next = 0, done = 0;
  bool stopping = false;
  uint64_t stopDeadline = 0;
  const std::string padding(pad, 'x');
  std::string out;

  auto stopRequested = [&] { return !stopFile.empty() && access(stopFile.c_str(), F_OK) == 0; };
  for (;;) {
    if (!stopping && (count ? next >= count : stopRequested())) {
      stopping = true;
      stopDeadline = monoNs() + 5'000'000'000ull;
    }
    while (!stopping && pending.size() < inflight && (count == 0 || next < count)) {
      const std::string cid = prefix + std::to_string(++next);
      const std::string body = "{\"op\":\"pub\",\"ch\":\"" + channel + "\",\"from\":\"durability\",\"cid\":\"" + cid +
                               "\",\"data\":{\"cid\":\"" + cid + "\",\"pad\":\"" + padding + "\"}}";
      // Envelope: [cid][empty][body]; the hub echoes every frame before the body.
      const uint64_t t = monoNs();
      dealer.send(zmq::buffer(cid), zmq::send_flags::sndmore);
      dealer.send(zmq::message_t(), zmq::send_flags::sndmore);
      dealer.send(zmq::buffer(body), zmq::send_flags::none);
      pending.emplace(cid, Pending{t});
    }
    if (pending.empty() && stopping) break;
    if (stopping && monoNs() > stopDeadline) break;
    zmq::pollitem_t item{dealer.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(50));
    for (;;) {
      std::vector<zmq::message_t> frames;
      if (!zmq::recv_multipart(dealer, std::back_inserter(frames), zmq::recv_flags::dontwait)) break;
      const uint64_t t = monoNs();
      if (frames.size() < 2) continue;
      const std::string cid = frames.front().to_string();
      const std::string reply = frames.back().to_string();
      auto it = pending.find(cid);
      if (it == pending.end()) continue;
      std::string status = "ok", seq = "0";
      if (jsonField(reply, "ok") == "true") {
        seq = jsonField(reply, "seq");
      } else {
        status = jsonField(reply, "code");
        if (status != "unavailable") status = "error:" + status;
      }
      std::printf("%s %llu %llu %s %s\n", cid.c_str(), static_cast<unsigned long long>(it->second.sentNs),
                  static_cast<unsigned long long>(t), status.c_str(), seq.c_str());
      pending.erase(it);
      ++done;
    }
    const uint64_t now = monoNs();
    for (auto it = pending.begin(); it != pending.end();) {
      if (now - it->second.sentNs > timeoutNs) {
        std::printf("%s %llu %llu timeout 0\n", it->first.c_str(), static_cast<unsigned long long>(it->second.sentNs),
                    static_cast<unsigned long long>(now));
        it = pending.erase(it);
      } else {
        ++it;
      }
    }
    std::fflush(stdout);
  }
  for (auto& [cid, p] : pending)
    std::printf("%s %llu %llu timeout 0\n", cid.c_str(), static_cast<unsigned long long>(p.sentNs),
                static_cast<unsigned long long>(monoNs()));
  std::fflush(stdout);
  return 0;
}
