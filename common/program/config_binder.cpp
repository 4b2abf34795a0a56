#include "common/program/config_binder.h"

#include <toml++/toml.h>

#include <algorithm>
#include <limits>
#include <sstream>

namespace webim::config_binder {

namespace {

// The help line's default: lists and empty strings show none.
std::string defaultText(SettingTarget value) {
  return std::visit(
      [](auto* v) -> std::string {
        using T = std::remove_pointer_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          return {};
        } else if constexpr (std::is_same_v<T, bool>) {
          return *v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::string>) {
          return *v;
        } else {
          return std::to_string(*v);
        }
      },
      value);
}

// "" when `node` fits `*out` (and stores it), else what the key must be.
std::string readNode(const toml::node& node, std::string* out) {
  if (!node.is_string()) return "a string";
  *out = *node.value<std::string>();
  return {};
}

std::string readNode(const toml::node& node, bool* out) {
  if (!node.is_boolean()) return "a boolean";
  *out = *node.value<bool>();
  return {};
}

template <class Int>
  requires std::is_integral_v<Int>
std::string readNode(const toml::node& node, Int* out) {
  const std::optional<int64_t> v = node.is_integer() ? node.value<int64_t>() : std::nullopt;
  if constexpr (std::is_signed_v<Int>) {
    if (!v) return "an integer";
  } else {
    if (!v || *v < 0 || static_cast<uint64_t>(*v) > std::numeric_limits<Int>::max()) {
      return "an integer 0.." + std::to_string(std::min<uint64_t>(std::numeric_limits<Int>::max(), INT64_MAX));
    }
  }
  *out = static_cast<Int>(*v);
  return {};
}

std::string readNode(const toml::node& node, std::vector<std::string>* out) {
  const toml::array* array = node.as_array();
  if (array == nullptr) return "an array of strings";
  std::vector<std::string> values;
  for (const toml::node& item : *array) {
    if (!item.is_string()) return "an array of strings";
    values.push_back(*item.value<std::string>());
  }
  *out = std::move(values);
  return {};
}

}  // namespace

std::string flagName(std::string_view key) {
  std::string name = "--" + std::string(key);
  std::replace(name.begin(), name.end(), '_', '-');
  return name;
}

CLI::Option* addFlag(CLI::App& app, std::string_view key, std::string_view help, SettingTarget target,
                     SettingTarget defaultValue) {
  const std::string name = flagName(key);
  CLI::Option* option = std::visit(
      [&](auto* v) -> CLI::Option* {
        using T = std::remove_pointer_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          // A bare flag, a value after it, or its --no- form: every form either program took.
          return app.add_flag(name + ",!--no-" + name.substr(2), *v, std::string(help))->expected(0, 1);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          return app.add_option(name, *v, std::string(help))->take_all();
        } else {
          return app.add_option(name, *v, std::string(help));
        }
      },
      target);
  if (std::string text = defaultText(defaultValue); !text.empty()) option->default_str(text);
  return option;
}

void copyFlag(SettingTarget from, SettingTarget to) {
  std::visit(
      [&to](auto* source) {
        using T = std::remove_pointer_t<decltype(source)>;
        T& destination = *std::get<T*>(to);
        destination = *source;
        if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          std::erase_if(destination, [](const std::string& v) { return v.empty(); });
        }
      },
      from);
}

std::string readFile(const std::string& path, std::span<const std::string_view> keys,
                     const std::function<SettingTarget(size_t)>& target) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::ostringstream message;
    message << "config " << path << ": " << e.description() << " (line " << e.source().begin.line << ")";
    return message.str();
  }
  for (const auto& entry : table) {
    const toml::key& key = entry.first;
    const toml::node& node = entry.second;  // not a structured binding: clang 14 cannot capture one
    const auto known = std::find(keys.begin(), keys.end(), key.str());
    if (known == keys.end()) return "config " + path + ": unknown key '" + std::string(key.str()) + "'";
    const std::string expected =
        std::visit([&node](auto* out) { return readNode(node, out); }, target(static_cast<size_t>(known - keys.begin())));
    if (!expected.empty()) return "config " + path + ": key '" + std::string(key.str()) + "' must be " + expected;
  }
  return {};
}

}  // namespace webim::config_binder
