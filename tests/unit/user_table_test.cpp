#include "broadcast/user_table.h"

#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <unordered_map>

using webim::hub::Holders;
using webim::hub::UserTable;

namespace {

// Every entry of the model is found with its holders, and the table holds nothing else.
void checkMatches(UserTable& table, const std::unordered_map<std::string, uint16_t>& model) {
  REQUIRE(table.size() == model.size());
  for (const auto& [user, count] : model) {
    const Holders* h = table.find(user);
    REQUIRE(h != nullptr);
    CHECK(h->count == count);
  }
  size_t seen = 0;
  table.eraseIf([&](std::string_view user, Holders& h) {
    auto it = model.find(std::string(user));
    CHECK(it != model.end());
    if (it != model.end()) CHECK(h.count == it->second);
    ++seen;
    return UserTable::Visit::Keep;
  });
  CHECK(seen == model.size());
}

std::string userId(std::mt19937_64& rng) {
  // Mostly 7-digit ids; some exactly 15 and 16 bytes (the inline limit), some long, one empty.
  switch (rng() % 8) {
    case 0: return std::string(15, 'a') .replace(0, 3, std::to_string(rng() % 500));
    case 1: return "long-user-id-" + std::to_string(rng() % 500) + "-past-the-inline-bytes";
    case 2: return rng() % 50 == 0 ? std::string() : std::string(16, 'b').replace(0, 3, std::to_string(rng() % 500));
    default: return std::to_string(1000000 + rng() % 3000);
  }
}

}  // namespace

TEST_CASE("ids up to 15 bytes are kept inline, longer ones on the heap", "[user_table]") {
  UserTable table;
  const std::string fifteen(15, 'x'), sixteen(16, 'y'), empty;
  table.findOrInsert(fifteen).count = 1;
  table.findOrInsert(sixteen).count = 2;
  table.findOrInsert(empty).count = 3;
  table.findOrInsert("1234567").count = 4;
  CHECK(table.find(fifteen)->count == 1);
  CHECK(table.find(sixteen)->count == 2);
  CHECK(table.find(empty)->count == 3);
  CHECK(table.find("1234567")->count == 4);
  CHECK(table.find(std::string(14, 'x')) == nullptr);
  CHECK(table.find(std::string(16, 'x')) == nullptr);
  CHECK(table.memoryBytes() == table.capacity() * 24 + 16);  // one heap copy
  CHECK(table.erase(sixteen));
  CHECK_FALSE(table.erase(sixteen));
  CHECK(table.memoryBytes() == table.capacity() * 24);
  CHECK(table.find(sixteen) == nullptr);
  CHECK(table.size() == 3);
}

TEST_CASE("findOrInsert finds an entry instead of adding a second one", "[user_table]") {
  UserTable table;
  table.findOrInsert("42").count = 5;
  CHECK(table.findOrInsert("42").count == 5);
  CHECK(table.size() == 1);
}

TEST_CASE("random inserts and erases through growth, shrinking and migration match a map", "[user_table]") {
  std::mt19937_64 rng(GENERATE(1, 2, 3));
  UserTable table;
  std::unordered_map<std::string, uint16_t> model;
  bool sawMigration = false;
  for (int round = 0; round < 6; ++round) {
    // Grow to a few thousand users, then erase most of them (the table shrinks).
    const bool growing = round % 2 == 0;
    for (int op = 0; op < 20000; ++op) {
      const std::string user = userId(rng);
      if (growing ? rng() % 4 != 0 : rng() % 4 == 0) {
        Holders& h = table.findOrInsert(user);
        h.count = static_cast<uint16_t>(h.count + 1);
        ++model[user];
      } else {
        CHECK(table.erase(user) == (model.erase(user) == 1));
      }
      sawMigration = sawMigration || table.migrating();
      if (op % 2500 == 0) checkMatches(table, model);
    }
    checkMatches(table, model);
  }
  CHECK(sawMigration);
}

TEST_CASE("the table stays between ~0.53 and 0.8 full, 30-45 bytes per user", "[user_table]") {
  UserTable table;
  size_t maxCapacity = 0;
  for (int i = 0; i < 200000; ++i) {
    table.findOrInsert(std::to_string(1000000 + i));
    if (!table.migrating() && table.size() > 1000) {
      const double load = static_cast<double>(table.size()) / static_cast<double>(table.capacity());
      CHECK(load >= 0.5);
      CHECK(load <= 0.8);
    }
    maxCapacity = std::max(maxCapacity, table.capacity());
  }
  CHECK(table.memoryBytes() <= 45 * table.size());
  // While growing both tables exist: 2.5x the old one at most.
  CHECK(maxCapacity * 24 <= 80 * 200000);
  // Erasing nearly everyone shrinks it.
  for (int i = 0; i < 199000; ++i) CHECK(table.erase(std::to_string(1000000 + i)));
  // Each insert or erase moves kMigrateSlots slots of a migration under way.
  for (int i = 0; i < 5000; ++i) {
    table.findOrInsert("x");
    table.erase("x");
  }
  CHECK_FALSE(table.migrating());
  CHECK(table.capacity() <= 3000);  // 1,000 users, 0.4 full after the shrink (or fuller)
  for (int i = 199000; i < 200000; ++i) CHECK(table.find(std::to_string(1000000 + i)) != nullptr);
}

TEST_CASE("eraseIf erases what it is told, in both tables while migrating, and stops", "[user_table]") {
  UserTable table;
  std::unordered_map<std::string, uint16_t> model;
  int i = 0;
  // Insert until a growth is under way, then a little more.
  for (; i < 100000 && !(table.migrating() && table.size() > 1000); ++i) {
    const std::string user = i % 10 == 0 ? "long-id-past-fifteen-bytes-" + std::to_string(i) : std::to_string(i);
    table.findOrInsert(user).count = static_cast<uint16_t>(i % 3);
    model[user] = static_cast<uint16_t>(i % 3);
  }
  REQUIRE(table.migrating());
  // Erase the count-0 entries, as forgetFrontend does with users it held alone.
  size_t visits = 0;
  table.eraseIf([&](std::string_view, Holders& h) {
    ++visits;
    return h.count == 0 ? UserTable::Visit::Erase : UserTable::Visit::Keep;
  });
  CHECK(visits == model.size());
  std::erase_if(model, [](const auto& kv) { return kv.second == 0; });
  checkMatches(table, model);
  visits = 0;
  table.eraseIf([&](std::string_view, Holders&) { return ++visits == 10 ? UserTable::Visit::Stop : UserTable::Visit::Keep; });
  CHECK(visits == 10);
  // Erase everything: the table is empty and usable.
  table.eraseIf([](std::string_view, Holders&) { return UserTable::Visit::Erase; });
  CHECK(table.size() == 0);
  CHECK(table.memoryBytes() == table.capacity() * 24);
  table.findOrInsert("again").count = 1;
  CHECK(table.find("again")->count == 1);
}
