// Metrics registry and Prometheus rendering; see metrics.h.
#include "metrics/metrics.h"

#include <cmath>
#include <sstream>

namespace crmsync::engine {
namespace {

std::string RenderLabels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ",";
    first = false;
    out += k + "=\"" + EscapeLabelValue(v) + "\"";
  }
  return out + "}";
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  std::ostringstream out;
  out.precision(10);
  out << v;
  return out.str();
}

}  // namespace

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
  return out;
}

Counter& MetricsRegistry::GetCounter(const std::string& name, const std::string& help,
                                     const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& family = families_[name];
  if (family.type.empty()) {
    family.type = "counter";
    family.help = help;
  }
  auto& slot = family.counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

void MetricsRegistry::AddGauge(const std::string& name, const std::string& help,
                               const Labels& labels, std::function<double()> read) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& family = families_[name];
  if (family.type.empty()) {
    family.type = "gauge";
    family.help = help;
  }
  family.gauges.emplace_back(labels, std::move(read));
}

int64_t MetricsRegistry::CounterValue(const std::string& name, const Labels& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto family = families_.find(name);
  if (family == families_.end()) return 0;
  auto counter = family->second.counters.find(labels);
  return counter == family->second.counters.end() ? 0 : counter->second->value();
}

std::string MetricsRegistry::RenderPrometheus() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& [name, family] : families_) {
    out += "# HELP " + name + " " + family.help + "\n";
    out += "# TYPE " + name + " " + family.type + "\n";
    for (const auto& [labels, counter] : family.counters) {
      out += name + RenderLabels(labels) + " " + std::to_string(counter->value()) + "\n";
    }
    for (const auto& [labels, read] : family.gauges) {
      out += name + RenderLabels(labels) + " " + FormatValue(read()) + "\n";
    }
  }
  return out;
}

}  // namespace crmsync::engine
