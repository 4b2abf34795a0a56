#include "common/slot_map.h"

#include <catch2/catch.hpp>

using namespace webim;

TEST_CASE("slots are zlib's crc32 modulo 1024, as PHP's crc32() computes them", "[slot_map]") {
  // Expected values computed independently with Python's zlib.crc32(name) % 1024.
  CHECK(slotOf("room:1") == 144);
  CHECK(slotOf("room:t") == 399);
  CHECK(slotOf("user:42") == 390);
  CHECK(slotOf("a") == 579);
  CHECK(slotOf("") == 0);
}

TEST_CASE("a shard table maps every slot to exactly one hub", "[slot_map]") {
  std::string error;
  auto map = SlotMap::parse(R"({"slots":1024,"shards":[
      {"name":"hub0","slots":"0-511","app_ingress":"tcp://a:1","hub_ingress":"tcp://a:2","hub_pub":"tcp://a:3"},
      {"name":"hub1","slots":"512-1000, 1001,1002-1023","hub_ingress":"tcp://b:2"}]})",
                            error);
  REQUIRE(map);
  CHECK(error.empty());
  REQUIRE(map->shards().size() == 2);
  CHECK(map->shards()[0].appIngress == "tcp://a:1");
  CHECK(map->shards()[1].hubIngress == "tcp://b:2");
  CHECK(map->shardOfSlot(0) == 0);
  CHECK(map->shardOfSlot(511) == 0);
  CHECK(map->shardOfSlot(512) == 1);
  CHECK(map->shardOfSlot(1023) == 1);
  CHECK(map->shardOf("room:1") == 0);  // slot 144
  CHECK(map->shardOf("a") == 1);       // slot 579
  CHECK(map->findShard("hub1") == 1u);
  CHECK_FALSE(map->findShard("hub9"));
}

TEST_CASE("slots may be listed as numbers", "[slot_map]") {
  std::string list = "[";
  for (int i = 0; i < 1024; ++i) list += (i ? "," : "") + std::to_string(i);
  list += "]";
  std::string error;
  auto map = SlotMap::parse(R"({"shards":[{"name":"only","slots":)" + list + "}]}", error);
  REQUIRE(map);
  CHECK(map->shardOf("anything") == 0);
}

TEST_CASE("bad shard tables are refused with a clear reason", "[slot_map]") {
  std::string error;
  CHECK_FALSE(SlotMap::parse("not json", error));
  CHECK(error.find("JSON") != std::string::npos);
  CHECK_FALSE(SlotMap::parse(R"({"shards":[]})", error));
  CHECK_FALSE(SlotMap::parse(R"({"slots":512,"shards":[{"name":"a","slots":"0-511"}]})", error));
  CHECK_FALSE(SlotMap::parse(R"({"shards":[{"name":"a","slots":"0-1022"}]})", error));
  CHECK(error == "slot 1023 belongs to no shard");
  CHECK_FALSE(SlotMap::parse(R"({"shards":[{"name":"a","slots":"0-1023"},{"name":"b","slots":"5"}]})", error));
  CHECK(error == "slot 5 belongs to two shards");
  CHECK_FALSE(SlotMap::parse(R"({"shards":[{"name":"a","slots":"0-1024"}]})", error));
  CHECK_FALSE(SlotMap::parse(R"({"shards":[{"name":"a","slots":"9-3"}]})", error));
  CHECK_FALSE(SlotMap::parse(R"({"shards":[{"slots":"0-1023"}]})", error));
  CHECK_FALSE(SlotMap::parse(R"({"shards":[{"name":"a","slots":"0-1023"},{"name":"a","slots":[]}]})", error));
}

TEST_CASE("every hub has its own CURVE key pair", "[slot_map]") {
  std::string error;
  const std::string k1 = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", k2 = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
  auto table = [](const std::string& a, const std::string& b) {
    return R"({"shards":[{"name":"a","slots":"0-511","curve_server_key":")" + a +
           R"("},{"name":"b","slots":"512-1023","curve_server_key":")" + b + R"("}]})";
  };
  std::optional<SlotMap> map = SlotMap::parse(table(k1, k2), error);
  REQUIRE(map);
  CHECK(map->shards()[1].curveServerKey == k2);
  CHECK_FALSE(SlotMap::parse(table(k1, k1), error));
  CHECK(error.find("shards \"a\" and \"b\" have the same curve_server_key") == 0);
}
