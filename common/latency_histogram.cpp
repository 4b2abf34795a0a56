#include "common/latency_histogram.h"

#include <cstdio>

namespace webim {

namespace {
// Microseconds as seconds, without trailing zeros ("0.0001", "0.0032", "3.2768").
std::string seconds(uint64_t micros) {
  char text[32];
  std::snprintf(text, sizeof(text), "%llu.%06llu", static_cast<unsigned long long>(micros / 1'000'000),
                static_cast<unsigned long long>(micros % 1'000'000));
  std::string out(text);
  while (out.back() == '0') out.pop_back();
  if (out.back() == '.') out.pop_back();
  return out;
}

void line(std::string& out, std::string_view name, std::string_view suffix, std::string_view labels,
          std::string_view extra, const std::string& value) {
  out.append(name).append(suffix);
  if (!labels.empty() || !extra.empty()) {
    out.push_back('{');
    out.append(labels);
    if (!labels.empty() && !extra.empty()) out.push_back(',');
    out.append(extra);
    out.push_back('}');
  }
  out.push_back(' ');
  out.append(value).push_back('\n');
}
}  // namespace

void LatencyHistogram::render(std::string& out, std::string_view name, std::string_view help,
                              std::string_view labels) const {
  out.append("# HELP ")
      .append(name)
      .append(" ")
      .append(help)
      .append("\n# TYPE ")
      .append(name)
      .append(" histogram\n");
  renderSeries(out, name, labels);
}

void LatencyHistogram::renderSeries(std::string& out, std::string_view name, std::string_view labels) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBounds; ++i) {
    cumulative += counts_[i];
    line(out, name, "_bucket", labels, "le=\"" + seconds(boundUs(i)) + "\"", std::to_string(cumulative));
  }
  line(out, name, "_bucket", labels, "le=\"+Inf\"", std::to_string(count_));
  line(out, name, "_sum", labels, {}, seconds(sumUs_));
  line(out, name, "_count", labels, {}, std::to_string(count_));
}

}  // namespace webim
