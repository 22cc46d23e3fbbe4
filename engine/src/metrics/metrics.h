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

/// A Prometheus histogram: cumulative buckets, a sum and a count.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  /// Records one observation (seconds, for _seconds histograms).
  void Observe(double value);
  const std::vector<double>& bounds() const { return bounds_; }
  /// Per-bucket counts (not cumulative), the last one for +Inf; sum; count.
  void Snapshot(std::vector<int64_t>* buckets, double* sum, int64_t* count) const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<int64_t>[]> buckets_;
  std::atomic<int64_t> count_{0};
  std::atomic<int64_t> sum_micros_{0};
};

/// Default buckets for CRM call durations, in seconds.
const std::vector<double>& DurationBuckets();

/// Successes and failures over a sliding window of whole seconds.
class RateWindow {
 public:
  explicit RateWindow(int window_s) : window_s_(window_s), slots_(static_cast<size_t>(window_s)) {}
  void Record(int64_t now_ms, bool success);
  /// Successes / (successes + failures) over the window ending at now; -1 when empty.
  double SuccessRatio(int64_t now_ms) const;
  /// How many results the window holds at now.
  int64_t Total(int64_t now_ms) const;
  int window_s() const { return window_s_; }

 private:
  struct Slot {
    int64_t second = -1;
    int64_t ok = 0;
    int64_t failed = 0;
  };
  const int window_s_;
  mutable std::mutex mu_;
  std::vector<Slot> slots_;
};

class MetricsRegistry {
 public:
  /// The counter `name` with `labels`, created at 0 on first use. `name` should
  /// end in _total (Prometheus naming).
  Counter& GetCounter(const std::string& name, const std::string& help, const Labels& labels = {});
  /// The histogram `name` with `labels`, created on first use with `bounds`.
  /// `name` should end in _seconds for durations.
  Histogram& GetHistogram(const std::string& name, const std::string& help, const Labels& labels,
                          const std::vector<double>& bounds = DurationBuckets());
  /// A gauge read by calling `read` at render time.
  void AddGauge(const std::string& name, const std::string& help, const Labels& labels,
                std::function<double()> read);
  /// A counter whose value is read by calling `read` at render time (for counts
  /// kept elsewhere, such as in the store). `name` should end in _total.
  void AddCounterFunc(const std::string& name, const std::string& help, const Labels& labels,
                      std::function<double()> read);
  /// The value of a counter, 0 when it does not exist (for tests and status).
  int64_t CounterValue(const std::string& name, const Labels& labels = {}) const;
  /// Everything in the Prometheus text exposition format, families sorted by name.
  std::string RenderPrometheus() const;

 private:
  /// A family of `type` whose value is read at each scrape.
  void AddFunc(const char* type, const std::string& name, const std::string& help,
               const Labels& labels, std::function<double()> read);
  struct Family {
    std::string help;
    std::string type;  // "counter", "gauge" or "histogram"
    std::map<Labels, std::unique_ptr<Counter>> counters;
    std::map<Labels, std::unique_ptr<Histogram>> histograms;
    std::vector<std::pair<Labels, std::function<double()>>> gauges;
  };
  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

/// Escapes a label value for the text format.
std::string EscapeLabelValue(const std::string& value);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_METRICS_METRICS_H_
