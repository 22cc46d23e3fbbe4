// dispatch/job_runner.h: runs one leased job through the plugin and decides
// what happens next. This is where the outcome table of docs/design.md §4 becomes
// behaviour:
//
//   answer (Status from Classify)  action
//   ok                             next step; after a create, keep the external id
//   retryable / internal           retry with backoff (RetryPolicy), then dead letter;
//                                  network/5xx feed the circuit breaker; a create whose
//                                  request was sent without an answer is marked in doubt
//                                  (while the breaker is open the job is held instead: no
//                                  attempt used, up to crm.retry.max_outage)
//   rate_limited (429)             job released until Retry-After, no attempt used (up to
//                                  crm.retry.max_outage of 429s); the plugin's rate is cut
//                                  once per 429 window (RateLimiter), not once per 429
//   unauthenticated (401/403)      disable sync for the plugin, alert; job released untouched
//   not_found (404)                read in context by a lookup by reference: same id → the
//                                  endpoint is missing, dead letter naming method and path;
//                                  another id → relink and retry the step; absent → drop the
//                                  stale id and create again (once a lease)
//   conflict (409)                 look the record up by reference and link it; then update
//   invalid_record / permanent     dead letter at once with the CRM's reason
//
// Related records (docs/design.md §4): a lead or inquiry whose property the
// engine holds but has not yet created in the CRM (RelatedState::kPending) is
// released, no attempt used, until the property's job has linked it or ended;
// at most crm.retry.max_outage from the job's acceptance, then it goes
// without, logged. SyncJob::related carries the property's CRM id and the
// agents the AgentDirectory matched.
//
// A create in doubt (an earlier try may have reached the CRM) is preceded by a
// lookup by reference, so the CRM never gets a duplicate; a plugin without
// lookup_by_reference gets a dead letter instead of a second create. Multi-step plans
// resume at the step that failed.
//
// A JobRunner holds no per-job state; Run() may be called from several workers
// at once.
#ifndef CRMSYNC_ENGINE_DISPATCH_JOB_RUNNER_H_
#define CRMSYNC_ENGINE_DISPATCH_JOB_RUNNER_H_

#include <functional>
#include <optional>
#include <vector>
#include <string>

#include "common/clock.h"
#include "dispatch/circuit_breaker.h"
#include "dispatch/rate_limiter.h"
#include "dispatch/retry_policy.h"
#include "inbound/agent_directory.h"
#include "metrics/metrics.h"
#include "plugin_host/guarded_adapter.h"
#include "queue/queue_types.h"

namespace crmsync::engine {

/// What the live adapter built for one job whose lease ended it (done or
/// dead-lettered), for shadow mode (docs/design.md §11): the job as planned
/// (external_id as leased), the live plan, and each step this lease built,
/// with the CRM id it was built with. A batched job's step carries no request
/// (the live adapter sent a BuildBatch); shadow mode builds it alone.
struct BuiltJob {
  int64_t job_id = 0;
  SyncJob job;
  std::vector<StepKind> plan;
  struct Step {
    StepKind kind = StepKind::kCreate;
    std::optional<std::string> external_id;
    std::optional<HttpRequest> request;
  };
  std::vector<Step> steps;
  /// The CRM id the job ended linked to (nullopt when none): shadow mode maps
  /// it to the sandbox's id for the record.
  std::optional<std::string> linked_id;
};

struct JobRunnerContext {
  std::string plugin;
  GuardedAdapter* adapter = nullptr;
  Capabilities capabilities;
  CircuitBreaker* breaker = nullptr;
  RateLimiter* limiter = nullptr;
  const RetryPolicy* policy = nullptr;
  Clock* clock = nullptr;
  MetricsRegistry* metrics = nullptr;
  /// Successes and failures of CRM calls, for the success-rate gauge and alerts.
  RateWindow* calls = nullptr;
  /// crm.retry.max_outage: how long a job may be held by an open circuit
  /// breaker or a run of 429s before it is dead-lettered; 0 for no limit.
  int64_t max_outage_ms = 0;
  /// Returns a number in [0, 1) for retry jitter.
  std::function<double()> random;
  /// False when no request may be sent now (shutting down, sync disabled).
  std::function<bool()> may_send;
  /// Called on 401/403 with a reason to show ops.
  std::function<void(const std::string& reason)> on_unauthenticated;
  /// Where answers state the CRM's budget (the plugin's sets, then the
  /// defaults); nullptr or empty: budgets are not read.
  const std::vector<RateLimitHeaders>* budget_headers = nullptr;
  /// Called when an answer carries budget headers that cannot be read, with
  /// why (masked); the budget is then ignored for that answer.
  std::function<void(const std::string& problem)> on_budget_problem;
  /// Matches dealers to CRM users for SyncJob::related["agent"] and
  /// ["propertyAgent"]; nullptr: no agent is resolved.
  AgentDirectory* agents = nullptr;
  /// How soon (clock time) a job waiting for its related record first looks
  /// again; later looks come an eighth of the time waited so far apart, at
  /// most kRelatedRecheckMaxMs.
  int64_t related_recheck_ms = 500;
  /// Shadow mode: handed every job a lease ended, with what the live adapter
  /// built for it. Called on the worker's thread: it must only queue (it
  /// never blocks, never fails the job). Empty: nothing is kept.
  std::function<void(BuiltJob&&)> on_built;
};

/// The longest pause between two looks of a job waiting for its related record.
constexpr int64_t kRelatedRecheckMaxMs = 30000;

class JobRunner {
 public:
  explicit JobRunner(JobRunnerContext context) : ctx_(std::move(context)) {}

  /// Runs `job` from its stored step. `is_probe` says the circuit breaker let
  /// this job through as its half-open probe (it may send while the breaker is
  /// not closed).
  JobOutcome Run(const LeasedJob& job, bool is_probe);

  /// The step `job` would run in a batch, or nullopt when it must run alone:
  /// only the first try of a one-step upsert plan, not in doubt, with a plugin
  /// whose max_batch_size is at least 2.
  std::optional<StepKind> BatchStep(const LeasedJob& job) const;

  /// Runs jobs whose BatchStep() is `kind` as one BuildBatch request. Per-item
  /// results go to each job: an item the CRM refuses does not fail the others;
  /// an item with any other error counts one failed try and then runs alone.
  /// Returns one outcome per job, in order.
  std::vector<JobOutcome> RunBatch(const std::vector<LeasedJob>& jobs, StepKind kind,
                                   bool is_probe);

  /// A job leased, not to be sent, while the circuit breaker is open or a 429
  /// storm pauses the plugin (`storm`), which began at `since_ms` longer ago
  /// than crm.retry.max_outage: dead-lettered ("CRM unavailable since ...")
  /// when it has been held that long itself, else released until `release_at_ms`.
  JobOutcome HoldThroughOutage(const LeasedJob& job, int64_t since_ms, int64_t release_at_ms,
                               bool storm);

 private:
  struct Attempt;
  // Run() once `a` is made: the outcome table.
  JobOutcome RunSteps(const LeasedJob& job, Attempt& a);
  // Hands what `a` built to ctx_.on_built when `out` ends the job.
  void ReportBuilt(const LeasedJob& job, Attempt& a, const JobOutcome& out) const;
  // Sends `request`, taken with `ticket` from the rate limiter, and tells the
  // limiter (and the circuit breaker) how the CRM answered.
  Status Call(const RateTicket& ticket, const HttpRequest& request, HttpResponse* response) const;
  Status Lookup(Attempt& a, std::optional<std::string>* found) const;
  // Adds the CRM users matched to `sync`'s dealers to sync->related,
  // reporting those nothing matched (and noting them in `out`'s audit).
  void AddAgents(SyncJob* sync, JobOutcome* out) const;
  // Whether `job` is still waiting for its related property: then the
  // release time; else 0 (logged, and noted in `out`'s audit, when it goes
  // without a property the engine knows).
  int64_t RelatedWait(const LeasedJob& job, JobOutcome* out) const;

  const JobRunnerContext ctx_;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_DISPATCH_JOB_RUNNER_H_
