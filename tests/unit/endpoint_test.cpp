#include "common/endpoint.h"

#include <catch2/catch.hpp>

using namespace webim;

TEST_CASE("loopback endpoints need no CURVE; everything else does", "[endpoint]") {
  CHECK(isLoopbackEndpoint("tcp://127.0.0.1:5560"));
  CHECK(isLoopbackEndpoint("tcp://127.1.2.3:5560"));
  CHECK(isLoopbackEndpoint("tcp://localhost:5560"));
  CHECK(isLoopbackEndpoint("tcp://[::1]:5560"));
  CHECK(isLoopbackEndpoint("ipc:///run/webim/app"));
  CHECK(isLoopbackEndpoint("inproc://x"));
  CHECK_FALSE(isLoopbackEndpoint("tcp://0.0.0.0:5560"));
  CHECK_FALSE(isLoopbackEndpoint("tcp://*:5560"));
  CHECK_FALSE(isLoopbackEndpoint("tcp://10.0.0.5:5560"));
  CHECK_FALSE(isLoopbackEndpoint("tcp://localhost.example.com:5560"));
  CHECK_FALSE(isLoopbackEndpoint("tcp://[::]:5560"));
  CHECK_FALSE(isLoopbackEndpoint("tcp://1270.0.0.1:5560"));
}

TEST_CASE("Z85 CURVE keys are 40 characters of the Z85 alphabet", "[endpoint]") {
  CHECK(isZ85Key("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"));
  CHECK_FALSE(isZ85Key("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf"));   // 39
  CHECK_FALSE(isZ85Key("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7 "));  // 41
  CHECK_FALSE(isZ85Key("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf\""));  // '"' is not Z85
}
