// dispatch/dispatcher.h: the worker pool that drains the outbound queue.
//
// Each worker leases a small batch of ready jobs (one job, the probe, while
// the circuit breaker is half-open; none while it is open, while sync is
// disabled, or while a 429 pause lasts; no more than the rate limit lets go
// now, and none before it lets one go), runs them through JobRunner and
// records the outcomes in one store write. A ticker thread moves due retries
// and expired leases back to ready. Nothing here sleeps on a timer to decide
// timing: deadlines come from the injected Clock, and a ManualClock's
// Advance() wakes every waiter.
//
// Start/Stop from one thread; Wake() and ReloadSyncState() from any thread.
#ifndef CRMSYNC_ENGINE_DISPATCH_DISPATCHER_H_
#define CRMSYNC_ENGINE_DISPATCH_DISPATCHER_H_

#include <atomic>
#include <functional>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "dispatch/circuit_breaker.h"
#include "dispatch/dispatch_status.h"
#include "dispatch/job_runner.h"
#include "dispatch/rate_limiter.h"
#include "dispatch/retry_policy.h"
#include "metrics/metrics.h"
#include "plugin_host/guarded_adapter.h"
#include "store/job_queue.h"
#include "store/sync_states.h"

namespace crmsync::engine {

struct DispatcherOptions {
  std::string plugin;
  bool crm_enabled = true;
  int workers = 4;
  int lease_batch = 16;
  int64_t lease_ms = 120000;
  int64_t retry_delay_ms = 1000;
  int retry_attempts = 5;
  bool retry_jitter = false;
  int circuit_threshold = 5;
  int64_t circuit_open_ms = 30000;
  int64_t circuit_max_open_ms = 300000;
  /// crm.retry.max_outage: longest hold of a job by an outage or a 429 storm.
  int64_t max_outage_ms = 24LL * 3600 * 1000;
  double rate_limit_per_s = 0;
  /// Where the CRM's answers state its budget, tried in order: the plugin's
  /// own sets (Dump()'s "rateLimitHeaders") before the defaults.
  std::vector<RateLimitHeaders> budget_headers = DefaultRateLimitHeaders();
  /// Called on a worker thread right after a 401/403 disabled sync (the alert
  /// monitor looks at once).
  std::function<void()> on_sync_disabled;
  /// The agent directory for SyncJob::related's agents; nullptr: none.
  AgentDirectory* agents = nullptr;
  /// Shadow mode: see JobRunnerContext::on_built; empty when it is off.
  std::function<void(BuiltJob&&)> on_built;
};

class Dispatcher {
 public:
  /// Jobs come from `queue`; whether sync runs for the plugin is kept in `states`.
  Dispatcher(DispatcherOptions options, JobQueue* queue, SyncStates* states,
             GuardedAdapter* adapter, Capabilities capabilities, Clock* clock,
             MetricsRegistry* metrics);
  /// Stops as Stop() does when it was not called, but waits for the workers
  /// without a deadline.
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  /// Returns the leases a previous process left (they are in doubt), reads the
  /// sync state and starts the threads.
  void Start();
  /// Stops leasing, lets each worker finish the request it is in (later jobs of
  /// its batch are released untouched) and waits up to `deadline_ms`. Returns
  /// false when a worker is still inside a CRM call then; its lease is released
  /// anyway (in doubt) and the caller should exit without joining.
  bool Stop(int64_t deadline_ms);
  /// New jobs may be ready (intake accepted events, a replay): one idle
  /// worker looks, and passes the wake on when it finds a full lease.
  void Wake();
  /// Every worker looks again (sync enabled, due jobs promoted, the clock
  /// moved, stopping).
  void WakeAll();
  /// Re-reads whether sync is enabled for the plugin (after the admin API
  /// changed it) and wakes the workers.
  void ReloadSyncState();

  bool sync_enabled() const { return sync_enabled_.load(); }
  CircuitBreaker& breaker() { return breaker_; }
  RateLimiter& limiter() { return limiter_; }
  /// CRM call results over the last five minutes.
  RateWindow& calls() { return calls_; }
  /// Jobs finished (done or dead-lettered) by this process.
  int64_t jobs_finished() const { return jobs_finished_.load(); }
  /// The workers, sync, the circuit breaker and the rate limiter now, for ops
  /// (the admin API renders it).
  DispatchStatus Status() const;

 private:
  void WorkerLoop();
  std::vector<JobOutcome> RunLeased(const std::vector<LeasedJob>& jobs, bool probe);
  /// `sync_read_at_ms`: clock time the sync state was last read (in Start()).
  void TickerLoop(int64_t sync_read_at_ms);
  /// Wakes the ticker; a nudge sent while it is busy is not lost (ticks_).
  void NudgeTicker();
  // While the breaker is open past crm.retry.max_outage: leases due jobs and
  // dead-letters those held that long. True when it leased any.
  bool ExpireHeldJobs(int64_t now);
  /// Waits (real time) for a Wake(), at most `most_ms` and kIdleRecheck.
  void IdleWait(uint64_t seen_generation, int64_t most_ms = -1);
  void DisableSync(const std::string& reason);
  /// Logs an answer's unreadable budget headers: the first at once, then at
  /// most one a minute (clock time) with how many were left unsaid.
  void ReportBudgetProblem(const std::string& problem);

  DispatcherOptions options_;
  JobQueue* store_;
  SyncStates* states_;
  GuardedAdapter* adapter_;
  Capabilities capabilities_;
  Clock* clock_;
  MetricsRegistry* metrics_;
  RetryPolicy policy_;
  CircuitBreaker breaker_;
  RateLimiter limiter_;
  RateWindow calls_{300};
  std::unique_ptr<JobRunner> runner_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> sync_enabled_{true};
  std::atomic<int64_t> jobs_finished_{0};
  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable ticker_cv_;
  std::condition_variable exit_cv_;
  uint64_t generation_ = 0;  ///< bumped by Wake(), guarded by mu_
  uint64_t ticks_ = 0;       ///< bumped by NudgeTicker(), guarded by mu_
  int running_workers_ = 0;
  // Outcomes handed to the store and not yet durable (JobQueue::CompleteAsync):
  // Stop() waits for them; guarded by mu_, signalled on exit_cv_.
  int pending_completes_ = 0;
  std::vector<std::thread> workers_;
  std::thread ticker_;
  int advance_subscription_ = -1;
  std::mutex random_mu_;
  std::mt19937_64 random_;
  std::mutex budget_problem_mu_;
  int64_t budget_problem_logged_ms_ = -1;  ///< guarded by budget_problem_mu_
  int64_t budget_problems_unsaid_ = 0;     ///< guarded by budget_problem_mu_
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_DISPATCH_DISPATCHER_H_
