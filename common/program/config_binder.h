// One binder for both programs' settings: a table of {TOML key, member, help} gives each setting
// a flag ("--" + the key with '-' for '_') and a key in the --config TOML file, so the two can never
// drift apart, and the flag's --help line with its default. The file is applied first, then the
// flags that were given (flags win). Validation stays with each program's config struct, which
// is validated once at start (docs/architecture.md, house style 6).
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace webim {

// The setting types, as members of a program's config struct. Flags: a bool is `--x`, `--x true`,
// `--x=false` or `--no-x`; a list takes one or more values per flag, repeatable, and its empty
// values are dropped (`--retention ''` sets an empty list).
using SettingTarget =
    std::variant<std::string*, bool*, int64_t*, uint32_t*, uint64_t*, std::vector<std::string>*>;

template <class Config>
using SettingMember = std::variant<std::string Config::*, bool Config::*, int64_t Config::*, uint32_t Config::*,
                                   uint64_t Config::*, std::vector<std::string> Config::*>;

template <class Config>
struct Setting {
  std::string_view key;  // TOML key, lowercase with '_'
  SettingMember<Config> member;
  std::string_view help;
};

namespace config_binder {
// The untyped parts (config_binder.cpp), shared by every Config.
std::string flagName(std::string_view key);
// Adds the flag of one setting writing into `target`; its help shows `defaultValue`.
CLI::Option* addFlag(CLI::App& app, std::string_view key, std::string_view help, SettingTarget target,
                     SettingTarget defaultValue);
// Copies a given flag's value over the config's (a list without its empty values).
void copyFlag(SettingTarget from, SettingTarget to);
// Reads the TOML file at `path`: every key must be one of `keys` and of its setting's type;
// `target(i)` is where keys[i] goes. "" on success, else one line: "config PATH: ...".
std::string readFile(const std::string& path, std::span<const std::string_view> keys,
                     const std::function<SettingTarget(size_t)>& target);
}  // namespace config_binder

template <class Config>
SettingTarget settingIn(Config& config, const SettingMember<Config>& member) {
  return std::visit([&config](auto pointer) -> SettingTarget { return &(config.*pointer); }, member);
}

// Binds `settings` (static storage; defaults from a default-constructed Config) to flags of `app`,
// and --config. After app.parse(), apply() fills a config.
template <class Config>
class ConfigBinder {
 public:
  ConfigBinder(CLI::App& app, std::span<const Setting<Config>> settings) : settings_(settings) {
    app.add_option("--config", configPath_, "TOML file; keys are the flag names with '_' (flags win)");
    Config defaults{};
    for (const Setting<Config>& s : settings_) {
      options_.push_back(config_binder::addFlag(app, s.key, s.help, settingIn(flags_, s.member),
                                                settingIn(defaults, s.member)));
    }
  }
  ConfigBinder(const ConfigBinder&) = delete;
  ConfigBinder& operator=(const ConfigBinder&) = delete;

  // Reads the --config file (if one was given) over `config`, then the flags that were given.
  // "" on success, else the error line.
  std::string apply(Config& config) {
    if (!configPath_.empty()) {
      std::vector<std::string_view> keys;
      for (const Setting<Config>& s : settings_) keys.push_back(s.key);
      std::string error = config_binder::readFile(
          configPath_, keys, [&](size_t i) { return settingIn(config, settings_[i].member); });
      if (!error.empty()) return error;
    }
    for (size_t i = 0; i < settings_.size(); ++i) {
      if (options_[i]->count() > 0) {
        config_binder::copyFlag(settingIn(flags_, settings_[i].member), settingIn(config, settings_[i].member));
      }
    }
    return {};
  }

 private:
  std::span<const Setting<Config>> settings_;
  std::string configPath_;
  Config flags_;  // what the flags wrote; copied over the config for the flags given
  std::vector<CLI::Option*> options_;
};

}  // namespace webim
