#include "frontend/inline_ptr_vec.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <vector>

using webim::InlinePtrVec;

namespace {

struct Item {};

std::vector<Item*> sorted(const InlinePtrVec<Item, 2>& v) {
  std::vector<Item*> out(v.begin(), v.end());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("InlinePtrVec keeps two inline and fits a connection's small fields beside it", "[inline_ptr_vec]") {
  struct Owner {
    [[no_unique_address]] InlinePtrVec<Item, 2> list;
    uint16_t a;
    uint16_t b;
    uint8_t c;
  };
  STATIC_REQUIRE(sizeof(Owner) == 24);
  STATIC_REQUIRE(InlinePtrVec<Item, 2>::max_size() == UINT16_MAX);
}

TEST_CASE("InlinePtrVec: push, erase and clear across the inline/heap boundary", "[inline_ptr_vec]") {
  Item items[40];
  for (uint32_t count = 0; count <= 40; ++count) {
    for (uint32_t victim = 0; victim < std::max<uint32_t>(count, 1); ++victim) {
      InlinePtrVec<Item, 2> v;
      std::vector<Item*> model;
      for (uint32_t i = 0; i < count; ++i) {
        v.push_back(&items[i]);
        model.push_back(&items[i]);
      }
      REQUIRE(v.size() == count);
      REQUIRE(sorted(v) == model);
      if (count == 0) {
        CHECK_FALSE(v.erase(&items[0]));
        CHECK(v.empty());
        continue;
      }
      CHECK(v.erase(&items[victim]));
      CHECK_FALSE(v.erase(&items[victim]));  // only once
      model.erase(model.begin() + victim);
      REQUIRE(sorted(v) == model);
      v.push_back(&items[victim]);  // and back again
      model.push_back(&items[victim]);
      std::sort(model.begin(), model.end());
      REQUIRE(sorted(v) == model);
    }
  }
}

TEST_CASE("InlinePtrVec matches a vector under random pushes and erases", "[inline_ptr_vec]") {
  Item items[64];
  std::mt19937 rng(42);
  InlinePtrVec<Item, 2> v;
  std::vector<Item*> model;
  for (int step = 0; step < 100000; ++step) {
    Item* item = &items[rng() % 64];
    bool present = std::find(model.begin(), model.end(), item) != model.end();
    if (!present && rng() % 2 == 0) {
      v.push_back(item);
      model.push_back(item);
    } else {
      REQUIRE(v.erase(item) == present);
      if (present) model.erase(std::find(model.begin(), model.end(), item));
    }
    REQUIRE(v.size() == model.size());
    if (step % 97 == 0) {
      std::vector<Item*> want = model;
      std::sort(want.begin(), want.end());
      REQUIRE(sorted(v) == want);
    }
  }
  v.clear();
  CHECK(v.empty());
  CHECK(v.begin() == v.end());
}
