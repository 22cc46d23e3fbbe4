// metrics/metrics.h: counters and gauges, rendered in Prometheus text format.
//
// Counters are created on first use and live as long as the registry; the
// reference returned stays valid, so hot paths look a counter up once and keep
// it. Gauges are functions read at render time. Thread-safe.
#ifndef CRMSYNC_ENGINE_METRICS_METRICS_H_
#define CRMSYNC_ENGINE_METRICS_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace crmsync::engine {

/// Label name -> value, rendered sorted by name.
using Labels = std::map<std::string, std::string>;

class Counter {
 public:
  void Inc(int64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

class MetricsRegistry {
 public:
  /// The counter `name` with `labels`, created at 0 on first use. `name` should
  /// end in _total (Prometheus naming).
  Counter& GetCounter(const std::string& name, const std::string& help, const Labels& labels = {});
  /// A gauge read by calling `read` at render time.
  void AddGauge(const std::string& name, const std::string& help, const Labels& labels,
                std::function<double()> read);
  /// The value of a counter, 0 when it does not exist (for tests and status).
  int64_t CounterValue(const std::string& name, const Labels& labels = {}) const;
  /// Everything in the Prometheus text exposition format, families sorted by name.
  std::string RenderPrometheus() const;

 private:
  struct Family {
    std::string help;
    std::string type;  // "counter" or "gauge"
    std::map<Labels, std::unique_ptr<Counter>> counters;
    std::vector<std::pair<Labels, std::function<double()>>> gauges;
  };
  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

/// Escapes a label value for the text format.
std::string EscapeLabelValue(const std::string& value);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_METRICS_METRICS_H_
