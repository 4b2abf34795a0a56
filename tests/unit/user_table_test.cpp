#include "broadcast/user_table.h"

#include <catch2/catch.hpp>

#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

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
  size_t seen = 0;  // a walk that erases nothing sees each entry once
  table.visitSlice(0, SIZE_MAX, [&](std::string_view user, Holders& h) {
    auto it = model.find(std::string(user));
    CHECK(it != model.end());
    if (it != model.end()) CHECK(h.count == it->second);
    ++seen;
    return UserTable::Visit::Keep;
  });
  CHECK(seen == model.size());
}

std::string userId(std::mt19937_64& rng) {
  // Mostly 7-digit ids (inline), then 8-16 digit numbers, decimals that are not kept as numbers
  // (a leading zero, 17 digits), long and short names, and now and then the empty id.
  const uint64_t n = rng() % 500;
  switch (rng() % 10) {
    case 0: return std::to_string(10000000 + n);
    case 1: return std::to_string(1000000000000000ULL + n * 7919);  // 16 digits
    case 2: return "0" + std::to_string(10000000 + n);
    case 3: return std::to_string(10000000000000000ULL + n);  // 17 digits
    case 4: return "long-user-id-" + std::to_string(n) + "-past-the-inline-bytes";
    case 5: return rng() % 20 == 0 ? std::string() : "u" + std::to_string(n % 100);
    default: return std::to_string(1000000 + rng() % 3000);
  }
}

}  // namespace

TEST_CASE("ids of up to 7 bytes are kept inline, 8-16 digit numbers as numbers, the rest on the heap", "[user_table]") {
  UserTable table;
  const std::vector<std::string> inline_ = {"", "0", "1234567", "abcdefg"};
  const std::vector<std::string> numbers = {"12345678", "1234567890123456", "9999999999999999"};
  const std::vector<std::string> heap = {"01234567", "12345678901234567", "1234567a", "user-with-a-long-id"};
  uint16_t n = 0;
  for (const auto* group : {&inline_, &numbers, &heap}) {
    for (const std::string& user : *group) table.findOrInsert(user).count = ++n;
  }
  n = 0;
  size_t heapBytes = 0;
  for (const auto* group : {&inline_, &numbers, &heap}) {
    for (const std::string& user : *group) {
      INFO(user);
      REQUIRE(table.find(user) != nullptr);
      CHECK(table.find(user)->count == ++n);
      if (group == &heap) heapBytes += 4 + user.size();
    }
  }
  CHECK(table.size() == 11);
  for (const char* absent : {"123456", "012345678", "123456789", "1234567890123457", "00", "abcdefgh"}) {
    CHECK(table.find(absent) == nullptr);
  }
  CHECK(table.memoryBytes() == table.capacity() * 16 + heapBytes);
  // The walk gives every id back as it was given, numbers included.
  std::set<std::string> seen;
  table.visitSlice(0, SIZE_MAX, [&](std::string_view user, Holders&) {
    seen.emplace(user);
    return UserTable::Visit::Keep;
  });
  std::set<std::string> all(inline_.begin(), inline_.end());
  all.insert(numbers.begin(), numbers.end());
  all.insert(heap.begin(), heap.end());
  CHECK(seen == all);
  CHECK(table.erase("user-with-a-long-id"));
  CHECK_FALSE(table.erase("user-with-a-long-id"));
  CHECK(table.erase("12345678"));
  CHECK(table.memoryBytes() == table.capacity() * 16 + heapBytes - 4 - 19);
  CHECK(table.find("user-with-a-long-id") == nullptr);
  CHECK(table.find("12345678") == nullptr);
  CHECK(table.size() == 9);
}

TEST_CASE("findOrInsert finds an entry instead of adding a second one", "[user_table]") {
  UserTable table;
  table.findOrInsert("42").count = 5;
  CHECK(table.findOrInsert("42").count == 5);
  CHECK(table.size() == 1);
}

TEST_CASE("random inserts and erases through growth, shrinking and migration match a map", "[user_table]") {
  std::mt19937_64 rng(GENERATE(1, 2, 3));
  UserTable table(0);  // every growth and shrink migrates incrementally
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

TEST_CASE("the table stays between 0.64 and 0.8 full, 20-25 bytes per user", "[user_table]") {
  UserTable table;
  size_t maxCapacity = 0;
  bool sawMigration = false;
  for (int i = 0; i < 200000; ++i) {
    table.findOrInsert(std::to_string(1000000 + i));
    // Up to kRehashAtOnce slots the old table is moved at once; past it, a bit per call.
    if (table.capacity() < UserTable::kRehashAtOnce) CHECK_FALSE(table.migrating());
    sawMigration = sawMigration || table.migrating();
    if (!table.migrating() && table.size() > 1000) {
      const double load = static_cast<double>(table.size()) / static_cast<double>(table.capacity());
      CHECK(load >= 0.63);
      CHECK(load <= 0.8);
      CHECK(table.memoryBytes() <= 25 * table.size() + 16);
    }
    maxCapacity = std::max(maxCapacity, table.capacity());
  }
  CHECK(sawMigration);
  // While growing both tables exist: 2.25x the old one at most.
  CHECK(maxCapacity * 16 <= 45 * 200000);
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

TEST_CASE("a whole walk erases what it is told, in both tables while migrating, and stops", "[user_table]") {
  UserTable table(0);
  std::unordered_map<std::string, uint16_t> model;
  int i = 0;
  // Insert until a growth is under way, then a little more.
  for (; i < 100000 && !(table.migrating() && table.size() > 1000); ++i) {
    const std::string user = i % 10 == 0 ? "long-id-past-fifteen-bytes-" + std::to_string(i) : std::to_string(i);
    table.findOrInsert(user).count = static_cast<uint16_t>(i % 3);
    model[user] = static_cast<uint16_t>(i % 3);
  }
  REQUIRE(table.migrating());
  // Erase the count-0 entries, as forgetStep does with users only forgotten frontends held.
  size_t visits = 0;
  CHECK(table.visitSlice(0, SIZE_MAX, [&](std::string_view, Holders& h) {
    ++visits;
    return h.count == 0 ? UserTable::Visit::Erase : UserTable::Visit::Keep;
  }) == UserTable::npos);
  CHECK(visits >= model.size());  // a few twice: a shift of a run wrapping past the end
  std::erase_if(model, [](const auto& kv) { return kv.second == 0; });
  checkMatches(table, model);
  visits = 0;
  CHECK(table.visitSlice(0, SIZE_MAX, [&](std::string_view, Holders&) {
    return ++visits == 10 ? UserTable::Visit::Stop : UserTable::Visit::Keep;
  }) != UserTable::npos);
  CHECK(visits == 10);
  // Erase everything: the table is empty and usable.
  table.visitSlice(0, SIZE_MAX, [](std::string_view, Holders&) { return UserTable::Visit::Erase; });
  CHECK(table.size() == 0);
  CHECK(table.memoryBytes() == table.capacity() * 16);
  table.findOrInsert("again").count = 1;
  CHECK(table.find("again")->count == 1);
}

TEST_CASE("visitSlice: a walk in slices of a table that does not change sees every entry, in both tables while migrating", "[user_table]") {
  UserTable table(0);
  std::unordered_map<std::string, uint16_t> model;
  for (int i = 0; i < 100000 && !(table.migrating() && table.size() > 1000); ++i) {
    const std::string user = i % 10 == 0 ? "long-id-past-fifteen-bytes-" + std::to_string(i) : std::to_string(i);
    table.findOrInsert(user).count = static_cast<uint16_t>(i % 3);
    model[user] = static_cast<uint16_t>(i % 3);
  }
  REQUIRE(table.migrating());
  std::unordered_map<std::string, int> seen;
  size_t slices = 0;
  // Erases the count-0 entries as it goes (removeAt shifts the run back into the slot just seen).
  for (size_t pos = 0; pos != UserTable::npos; ++slices) {
    pos = table.visitSlice(pos, 97, [&](std::string_view user, Holders& h) {
      ++seen[std::string(user)];
      return h.count == 0 ? UserTable::Visit::Erase : UserTable::Visit::Keep;
    });
  }
  CHECK(slices > 10);
  CHECK(seen.size() == model.size());
  // Once each, but for the few a shift of a run wrapping past the end moves back onto walked slots.
  CHECK(std::all_of(seen.begin(), seen.end(), [](const auto& kv) { return kv.second <= 2; }));
  CHECK(std::count_if(seen.begin(), seen.end(), [](const auto& kv) { return kv.second == 2; }) < 100);
  std::erase_if(model, [](const auto& kv) { return kv.second == 0; });
  checkMatches(table, model);
}

TEST_CASE("visitSlice: entries moved between slices may be missed by one walk, never by walking again", "[user_table]") {
  UserTable table(0);
  std::unordered_map<std::string, uint16_t> model;
  for (int i = 0; i < 20000; ++i) {
    table.findOrInsert(std::to_string(i)).count = 1;
    model[std::to_string(i)] = 1;
  }
  // Mark every entry with count 2 in slices while other entries come and go (growth, shifts).
  int next = 20000;
  for (int walks = 0; walks < 50; ++walks) {
    for (size_t pos = 0; pos != UserTable::npos;) {
      pos = table.visitSlice(pos, 500, [&](std::string_view, Holders& h) {
        h.count = 2;
        return UserTable::Visit::Keep;
      });
      for (int k = 0; k < 20; ++k, ++next) {
        table.findOrInsert(std::to_string(next)).count = 2;  // new ones are marked already
        model[std::to_string(next)] = 2;
        const std::string gone = std::to_string(next - 15000);
        table.erase(gone);
        model.erase(gone);
      }
    }
    bool all = true;
    for (const auto& [user, _] : model) all = all && table.find(user)->count == 2;
    if (all) break;
  }
  for (const auto& [user, _] : model) REQUIRE(table.find(user)->count == 2);
  CHECK(table.size() == model.size());
}
