// ops/alerts.h: alerts ops must act on, one per episode.
//
// Alerts::Raise() starts an episode for (kind, subject) unless one is already
// running: a log line at error, crmsync_alerts_total{kind}, and, when
// alerts.webhook_url is set, a JSON POST with a Slack-compatible body
// ({"text": ...} plus kind, subject, state, at), retried on the outbound
// schedule by a sender thread. Resolve() ends the episode (logged at notice,
// posted as "resolved"). The HealthMonitor raises and resolves them from what
// it sees: sync disabled (401/403), circuit open, CRM failure rate over the
// window, queue depth and oldest-job age over their thresholds.
// Thread-safe.
#ifndef CRMSYNC_ENGINE_OPS_ALERTS_H_
#define CRMSYNC_ENGINE_OPS_ALERTS_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "crmsync/http_transport.h"
#include "dispatch/retry_policy.h"
#include "metrics/metrics.h"

namespace crmsync::engine {

struct ActiveAlert {
  std::string kind;
  std::string subject;
  std::string message;
  int64_t since_ms = 0;
};

class Alerts {
 public:
  /// `webhook_url` may be empty (log and metric only). nullptr with `*error`
  /// when the URL is unusable.
  static std::unique_ptr<Alerts> Create(const std::string& webhook_url, bool allow_insecure,
                                        RetryPolicy policy, Clock* clock, MetricsRegistry* metrics,
                                        std::string* error);
  ~Alerts();

  void Start();
  void Stop();

  /// Starts an episode; returns false (and does nothing) when one is running.
  bool Raise(const std::string& kind, const std::string& subject, const std::string& message);
  /// Ends an episode; returns false when none was running.
  bool Resolve(const std::string& kind, const std::string& subject, const std::string& message);
  std::vector<ActiveAlert> Active() const;
  /// Webhook posts delivered and given up (tests, status).
  int64_t posted() const;
  int64_t post_failures() const;
  /// Failed posts put back for a retry so far (tests wait on it before moving time).
  int64_t retries_scheduled() const;

 private:
  struct Post {
    std::string body;
    int attempts = 0;
    int64_t due_ms = 0;
  };
  Alerts(RetryPolicy policy) : policy_(policy) {}
  void Enqueue(const std::string& state, const ActiveAlert& alert);
  void SendLoop();

  std::unique_ptr<HttpTransport> transport_;
  std::string path_;
  RetryPolicy policy_;
  Clock* clock_ = nullptr;
  MetricsRegistry* metrics_ = nullptr;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::pair<std::string, std::string>, ActiveAlert> active_;
  std::deque<Post> outbox_;
  bool stopping_ = false;
  int64_t posted_ = 0;
  int64_t post_failures_ = 0;
  int64_t retries_scheduled_ = 0;
  int advance_subscription_ = -1;
  std::thread sender_;
};

/// What the monitor looks at, as functions so it needs no engine internals.
struct HealthProbes {
  std::string plugin;
  std::function<bool(std::string* reason)> sync_enabled;
  std::function<bool()> circuit_open;
  std::function<double()> success_ratio;   ///< -1 when no calls in the window.
  std::function<int64_t()> calls_in_window;
  std::function<int64_t()> queue_depth;    ///< Jobs not finished.
  std::function<int64_t()> oldest_job_age_s;
};

struct HealthThresholds {
  double max_failure_ratio = 0.5;  ///< Alert when failures / calls exceed it...
  int64_t min_calls = 20;          ///< ...over at least this many calls in the window.
  int64_t max_queue_depth = 10000;
  int64_t max_oldest_job_age_s = 900;
  int64_t check_interval_ms = 5000;
};

class HealthMonitor {
 public:
  HealthMonitor(Alerts* alerts, HealthProbes probes, HealthThresholds thresholds, Clock* clock)
      : alerts_(alerts), probes_(std::move(probes)), thresholds_(thresholds), clock_(clock) {}
  ~HealthMonitor();
  void Start();
  void Stop();
  /// One look at everything: raises and resolves alerts.
  void Evaluate();

 private:
  Alerts* alerts_;
  HealthProbes probes_;
  HealthThresholds thresholds_;
  Clock* clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  uint64_t generation_ = 0;
  int advance_subscription_ = -1;
  std::thread thread_;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_OPS_ALERTS_H_
