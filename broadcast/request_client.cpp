#include "broadcast/request_client.h"

#include <iostream>
#include <iterator>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

namespace webim::hub {

int runRequest(const RequestOptions& options) {
  try {
    zmq::context_t context(1);
    zmq::socket_t dealer(context, zmq::socket_type::dealer);
    dealer.set(zmq::sockopt::linger, 0);  // an unanswered request must not hold the exit
    dealer.set(zmq::sockopt::sndhwm, 1);
    dealer.set(zmq::sockopt::rcvhwm, 1);
    dealer.connect(options.appIngress);
    dealer.send(zmq::message_t(), zmq::send_flags::sndmore);
    dealer.send(zmq::buffer(options.json), zmq::send_flags::none);

    zmq::pollitem_t item{dealer.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(options.timeoutMs)) == 0) {
      std::cerr << "webim-broadcast request: no reply from " << options.appIngress << " within "
                << options.timeoutMs << " ms\n";
      return kExitRequestTimeout;
    }
    std::vector<zmq::message_t> frames;
    if (!zmq::recv_multipart(dealer, std::back_inserter(frames)) || frames.empty()) {
      std::cerr << "webim-broadcast request: empty reply\n";
      return kExitRequestTimeout;
    }
    std::cout << frames.back().to_string_view() << "\n";
    return 0;
  } catch (const zmq::error_t& e) {
    std::cerr << "webim-broadcast request: " << options.appIngress << ": " << e.what() << "\n";
    return kExitRequestTimeout;
  }
}

}  // namespace webim::hub
