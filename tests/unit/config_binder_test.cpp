#include "common/program/config_binder.h"

#include <catch2/catch.hpp>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

using namespace webim;

namespace {

struct Config {
  std::string name = "default";
  bool on = true;
  int64_t count = -1;
  uint32_t small = 7;
  uint64_t big = 8;
  std::vector<std::string> items = {"a"};
};

constexpr Setting<Config> kSettings[] = {
    {"name", &Config::name, "a string"},   {"on", &Config::on, "a boolean"},
    {"count", &Config::count, "signed"},   {"small_value", &Config::small, "unsigned, 32 bits"},
    {"big", &Config::big, "unsigned"},     {"items", &Config::items, "a list"},
};

// Parses `args` (after the program name) over a default Config: "" or the error line.
std::string bind(std::vector<std::string> args, Config& config) {
  CLI::App app{"test"};
  ConfigBinder<Config> binder(app, kSettings);
  std::vector<char*> argv{const_cast<char*>("test")};
  for (std::string& a : args) argv.push_back(a.data());
  app.parse(static_cast<int>(argv.size()), argv.data());
  return binder.apply(config);
}

std::string writeToml(const std::string& text) {
  const std::string path = "config_binder_test." + std::to_string(::getpid()) + ".toml";  // test cases run concurrently
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST_CASE("config binder: defaults stand, flags are the keys with '-'", "[config_binder]") {
  Config c;
  CHECK(bind({}, c).empty());
  CHECK(c.name == "default");
  CHECK(c.items == std::vector<std::string>{"a"});
  CHECK(bind({"--name", "x", "--count", "-3", "--small-value", "9", "--big", "18446744073709551615"}, c).empty());
  CHECK(c.name == "x");
  CHECK(c.count == -3);
  CHECK(c.small == 9);
  CHECK(c.big == UINT64_MAX);
}

TEST_CASE("config binder: a boolean flag is bare, takes a value, or has a --no- form", "[config_binder]") {
  for (auto [args, expected] : std::vector<std::pair<std::vector<std::string>, bool>>{
           {{"--on"}, true}, {{"--on", "false"}, false}, {{"--on=false"}, false}, {{"--no-on"}, false},
           {{"--no-on", "--on", "true"}, true}}) {
    Config c;
    c.on = !expected;
    REQUIRE(bind(args, c).empty());
    CHECK(c.on == expected);
  }
}

TEST_CASE("config binder: list flags repeat, take several values, and '' empties the list", "[config_binder]") {
  Config c;
  CHECK(bind({"--items", "x", "y", "--items", "z"}, c).empty());
  CHECK(c.items == std::vector<std::string>{"x", "y", "z"});
  CHECK(bind({"--items", ""}, c).empty());
  CHECK(c.items.empty());
}

TEST_CASE("config binder: the file goes first, then the flags given", "[config_binder]") {
  Config c;
  const std::string path = writeToml("name = \"file\"\non = false\ncount = -9\nsmall_value = 4\nitems = [\"f\"]\n");
  CHECK(bind({"--config", path, "--small-value", "5"}, c).empty());
  CHECK(c.name == "file");
  CHECK_FALSE(c.on);
  CHECK(c.count == -9);
  CHECK(c.small == 5);
  CHECK(c.items == std::vector<std::string>{"f"});
  std::remove(path.c_str());
}

TEST_CASE("config binder: unknown keys, wrong types and out-of-range numbers are one line each", "[config_binder]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"bogus = 1", "unknown key 'bogus'"},
      {"name = 1", "key 'name' must be a string"},
      {"on = \"yes\"", "key 'on' must be a boolean"},
      {"count = 1.5", "key 'count' must be an integer"},
      {"small_value = 4294967296", "key 'small_value' must be an integer 0..4294967295"},
      {"big = -1", "key 'big' must be an integer 0..9223372036854775807"},
      {"items = \"x\"", "key 'items' must be an array of strings"},
      {"items = [1]", "key 'items' must be an array of strings"},
      {"name = ", "(line 1)"},
  };
  for (const auto& [text, message] : cases) {
    Config c;
    const std::string path = writeToml(text + "\n");
    const std::string error = bind({"--config", path}, c);
    INFO(text << " -> " << error);
    CHECK(error.rfind("config " + path + ": ", 0) == 0);
    CHECK(error.find(message) != std::string::npos);
    CHECK(error.find('\n') == std::string::npos);
    std::remove(path.c_str());
  }
}

TEST_CASE("config binder: --help lists every flag with its default", "[config_binder]") {
  CLI::App app{"test"};
  ConfigBinder<Config> binder(app, kSettings);
  const std::string help = app.help();
  for (const char* line : {"--config", "--name TEXT=default", "--no-on", "--count INT=-1", "--small-value UINT=7",
                           "--items TEXT ..."}) {
    INFO(help);
    CHECK(help.find(line) != std::string::npos);
  }
}
