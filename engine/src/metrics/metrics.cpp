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

std::string FormatBound(double b) {
  std::ostringstream out;
  out << b;
  return out.str();
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<int64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i] = 0;
}

void Histogram::Observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<int64_t>(value * 1e6), std::memory_order_relaxed);
}

void Histogram::Snapshot(std::vector<int64_t>* buckets, double* sum, int64_t* count) const {
  buckets->resize(bounds_.size() + 1);
  for (size_t i = 0; i <= bounds_.size(); ++i) (*buckets)[i] = buckets_[i].load();
  *sum = static_cast<double>(sum_micros_.load()) / 1e6;
  *count = count_.load();
}

const std::vector<double>& DurationBuckets() {
  static const std::vector<double> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                               0.1,    0.25,  0.5,    1,     2.5,  5,     10, 30};
  return kBuckets;
}

void RateWindow::Record(int64_t now_ms, bool success) {
  int64_t second = now_ms / 1000;
  std::lock_guard<std::mutex> lock(mu_);
  Slot& slot = slots_[static_cast<size_t>(second % window_s_)];
  if (slot.second != second) slot = Slot{second, 0, 0};
  (success ? slot.ok : slot.failed)++;
}

double RateWindow::SuccessRatio(int64_t now_ms) const {
  int64_t second = now_ms / 1000;
  int64_t ok = 0, failed = 0;
  std::lock_guard<std::mutex> lock(mu_);
  for (const Slot& slot : slots_) {
    if (slot.second > second - window_s_ && slot.second <= second) {
      ok += slot.ok;
      failed += slot.failed;
    }
  }
  return ok + failed == 0 ? -1.0 : static_cast<double>(ok) / static_cast<double>(ok + failed);
}

int64_t RateWindow::Total(int64_t now_ms) const {
  int64_t second = now_ms / 1000;
  int64_t total = 0;
  std::lock_guard<std::mutex> lock(mu_);
  for (const Slot& slot : slots_) {
    if (slot.second > second - window_s_ && slot.second <= second) total += slot.ok + slot.failed;
  }
  return total;
}

Histogram& MetricsRegistry::GetHistogram(const std::string& name, const std::string& help,
                                         const Labels& labels, const std::vector<double>& bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& family = families_[name];
  if (family.type.empty()) {
    family.type = "histogram";
    family.help = help;
  }
  auto& slot = family.histograms[labels];
  if (!slot) slot = std::make_unique<Histogram>(bounds);
  return *slot;
}

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
  AddFunc("gauge", name, help, labels, std::move(read));
}

void MetricsRegistry::AddCounterFunc(const std::string& name, const std::string& help,
                                     const Labels& labels, std::function<double()> read) {
  AddFunc("counter", name, help, labels, std::move(read));
}

void MetricsRegistry::AddFunc(const char* type, const std::string& name, const std::string& help,
                              const Labels& labels, std::function<double()> read) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& family = families_[name];
  if (family.type.empty()) {
    family.type = type;
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
    for (const auto& [labels, histogram] : family.histograms) {
      std::vector<int64_t> buckets;
      double sum = 0;
      int64_t count = 0;
      histogram->Snapshot(&buckets, &sum, &count);
      int64_t cumulative = 0;
      for (size_t i = 0; i < buckets.size(); ++i) {
        cumulative += buckets[i];
        Labels with_le = labels;
        with_le["le"] = i < histogram->bounds().size() ? FormatBound(histogram->bounds()[i]) : "+Inf";
        out += name + "_bucket" + RenderLabels(with_le) + " " + std::to_string(cumulative) + "\n";
      }
      out += name + "_sum" + RenderLabels(labels) + " " + FormatValue(sum) + "\n";
      out += name + "_count" + RenderLabels(labels) + " " + std::to_string(count) + "\n";
    }
  }
  return out;
}

}  // namespace crmsync::engine
