#include "common/endpoint.h"

#include <catch2/catch.hpp>

using namespace webim;

TEST_CASE("loopback endpoints need no CURVE; everything else does", "[endpoint]") {
  CHECK(isLoopbackEndpoint("tcp://127.0.0.1:5560"));
  CHECK(isLoopbackEndpoint("tcp://127.1.2.3:5560"));
  CHECK(isLoopbackEndpoint("tcp://localhost:5560"));
  CHECK(isLoopbackEndpoint("tcp://[::1]:5560"));
  CHECK(isLoopbackEndpoint("ipc:///run/webim/app"));
  CHECK_FALSE(isLoopbackEndpoint("tcp://0.0.0.0:5560"));
  CHECK_FALSE(isLoopbackEndpoint("tcp://*:5560"));
  CHECK_FALSE(isLoopbackEndpoint("tcp://10.0.0.5:5560"));
  CHECK_FALSE(isLoopbackEndpoint("tcp://localhost.example.com:5560"));
  CHECK_FALSE(isLoopbackEndpoint("tcp://[::]:5560"));
  CHECK_FALSE(isLoopbackEndpoint("tcp://1270.0.0.1:5560"));
}

TEST_CASE("peer endpoints join two processes: tcp:// or ipc:// with an address, never inproc://", "[endpoint]") {
  CHECK(isPeerEndpoint("tcp://127.0.0.1:5561"));
  CHECK(isPeerEndpoint("tcp://*:5561"));
  CHECK(isPeerEndpoint("ipc:///run/webim/hub"));
  CHECK(isPeerEndpoint("ipc://@webim-hub"));
  // The frontend accepted inproc:// and the hub did not: a frontend and a hub are separate processes.
  CHECK_FALSE(isPeerEndpoint("inproc://hub"));
  CHECK_FALSE(isPeerEndpoint("tcp://"));
  CHECK_FALSE(isPeerEndpoint("ipc://"));
  CHECK_FALSE(isPeerEndpoint(""));
  CHECK_FALSE(isPeerEndpoint("udp://127.0.0.1:5561"));
  CHECK_FALSE(isPeerEndpoint("TCP://127.0.0.1:5561"));
  CHECK_FALSE(isLoopbackEndpoint("inproc://x"));
}

TEST_CASE("Z85 CURVE keys are 40 characters of the Z85 alphabet", "[endpoint]") {
  CHECK(isZ85Key("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"));
  CHECK_FALSE(isZ85Key("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf"));   // 39
  CHECK_FALSE(isZ85Key("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7 "));  // 41
  CHECK_FALSE(isZ85Key("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf\""));  // '"' is not Z85
}
