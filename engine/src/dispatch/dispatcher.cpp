// The worker pool; see dispatcher.h.
#include "dispatch/dispatcher.h"

#include <chrono>
#include <limits>

#include "common/logging.h"
#include "crmsync/redact.h"

namespace crmsync::engine {
namespace {

// Longest a worker or the ticker waits before re-checking on its own, in real
// time. Work arriving wakes them at once; this only bounds a missed wake.
constexpr auto kIdleRecheck = std::chrono::milliseconds(250);
// How often (clock time) the sync state is read again: engines sharing a
// store follow an enable or disable made through any one of them.
constexpr int64_t kSyncStateRecheckMs = 1000;

}  // namespace

Dispatcher::Dispatcher(DispatcherOptions options, JobQueue* queue, SyncStates* states,
                       GuardedAdapter* adapter, Capabilities capabilities, Clock* clock,
                       MetricsRegistry* metrics)
    : options_(std::move(options)),
      store_(queue),
      states_(states),
      adapter_(adapter),
      capabilities_(capabilities),
      clock_(clock),
      metrics_(metrics),
      policy_(options_.retry_delay_ms, options_.retry_attempts, options_.retry_jitter),
      breaker_(options_.circuit_threshold, options_.circuit_open_ms, options_.circuit_max_open_ms),
      limiter_(options_.rate_limit_per_s > 0 ? options_.rate_limit_per_s
                                             : capabilities.max_requests_per_second),
      random_(std::random_device{}()) {
  JobRunnerContext ctx;
  ctx.plugin = options_.plugin;
  ctx.adapter = adapter_;
  ctx.capabilities = capabilities_;
  ctx.breaker = &breaker_;
  ctx.limiter = &limiter_;
  ctx.policy = &policy_;
  ctx.clock = clock_;
  ctx.metrics = metrics_;
  ctx.calls = &calls_;
  ctx.max_outage_ms = options_.max_outage_ms;
  ctx.random = [this] {
    std::lock_guard<std::mutex> lock(random_mu_);
    return std::uniform_real_distribution<double>(0.0, 1.0)(random_);
  };
  ctx.may_send = [this] { return !stopping_.load() && sync_enabled_.load(); };
  ctx.on_unauthenticated = [this](const std::string& reason) { DisableSync(reason); };
  ctx.budget_headers = &options_.budget_headers;
  ctx.on_budget_problem = [this](const std::string& problem) { ReportBudgetProblem(problem); };
  ctx.agents = options_.agents;
  ctx.on_built = options_.on_built;
  runner_ = std::make_unique<JobRunner>(std::move(ctx));
  if (metrics_) {
    metrics_->AddGauge("crmsync_circuit_state", "Circuit breaker: 0 closed, 1 half-open, 2 open.",
                       {{"plugin", options_.plugin}}, [this] {
                         switch (breaker_.state(clock_->NowMs())) {
                           case CircuitBreaker::State::kClosed: return 0.0;
                           case CircuitBreaker::State::kHalfOpen: return 1.0;
                           case CircuitBreaker::State::kOpen: return 2.0;
                         }
                         return 0.0;
                       });
    // Families present (at zero) from the start, so dashboards and alerts see them.
    metrics_->GetCounter("crmsync_rate_limited_total", "429 answers from the CRM.",
                         {{"plugin", options_.plugin}});
    for (const char* result : {"done", "retry", "released", "dead_lettered"}) {
      metrics_->GetCounter("crmsync_jobs_finished_total", "Leases ended, by result.",
                           {{"plugin", options_.plugin}, {"result", result}});
    }
    metrics_->AddGauge("crmsync_sync_success_ratio",
                       "Share of CRM calls answered OK over the window; -1 when none.",
                       {{"plugin", options_.plugin}, {"window", "300s"}},
                       [this] { return calls_.SuccessRatio(clock_->NowMs()); });
    metrics_->AddCounterFunc("crmsync_rate_limit_waits_total",
                       "Requests held back by the plugin's rate limit.",
                       {{"plugin", options_.plugin}},
                       [this] { return static_cast<double>(limiter_.waits()); });
    metrics_->AddCounterFunc("crmsync_rate_limit_windows_total",
                             "429 windows opened: the plugin's rate is cut at most once each.",
                             {{"plugin", options_.plugin}},
                             [this] { return static_cast<double>(limiter_.windows_total()); });
    metrics_->AddGauge("crmsync_rate_limit_per_second",
                       "The plugin's request rate limit now; 0 when unlimited.",
                       {{"plugin", options_.plugin}},
                       [this] { return limiter_.current_rate(clock_->NowMs()); });
    metrics_->AddGauge("crmsync_sync_enabled", "1 when sync runs for the plugin.",
                       {{"plugin", options_.plugin}},
                       [this] { return sync_enabled_.load() ? 1.0 : 0.0; });
  }
}

Dispatcher::~Dispatcher() {
  // Never leave a thread running on a destroyed object: when the owner did not
  // Stop() first (e.g. unwinding from a failed start-up), wait for the workers
  // as long as it takes (a CRM call ends at the transport's timeout).
  Stop(std::numeric_limits<int32_t>::max());
}

void Dispatcher::Start() {
  int64_t released = store_->ReleaseAllLeases();
  if (released > 0) {
    ComponentLogger("dispatch")
        .warning("returned %s job(s) leased by a previous process to the queue (in doubt)",
                 std::to_string(released));
  }
  // The read time is taken here, not when the ticker thread first runs: a
  // clock advanced in between must count towards the next re-read.
  int64_t sync_read_at = clock_->NowMs();
  sync_enabled_ = states_->GetSyncState(options_.plugin).enabled;
  advance_subscription_ = clock_->OnAdvance([this] {
    WakeAll();
    NudgeTicker();
  });
  ticker_ = std::thread([this, sync_read_at] { TickerLoop(sync_read_at); });
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_workers_ = options_.workers;
  }
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

bool Dispatcher::Stop(int64_t deadline_ms) {
  if (!ticker_.joinable() && workers_.empty()) return true;
  clock_->RemoveOnAdvance(advance_subscription_);
  stopping_ = true;
  WakeAll();
  NudgeTicker();
  bool clean = false;
  {
    std::unique_lock<std::mutex> lock(mu_);
    clean = exit_cv_.wait_for(lock, std::chrono::milliseconds(deadline_ms),
                              [&] { return running_workers_ == 0; });
  }
  if (ticker_.joinable()) ticker_.join();
  if (clean) {
    for (auto& w : workers_) w.join();
    // The last outcomes are recorded before the leases are released.
    std::unique_lock<std::mutex> lock(mu_);
    exit_cv_.wait(lock, [&] { return pending_completes_ == 0; });
  } else {
    for (auto& w : workers_) w.detach();
    ComponentLogger("dispatch")
        .error("shutdown deadline passed with workers still inside a CRM call; releasing leases");
  }
  workers_.clear();
  try {
    store_->ReleaseAllLeases();
  } catch (const std::exception& e) {
    ComponentLogger("dispatch").error("releasing leases at shutdown failed: %s", std::string(e.what()));
  }
  return clean;
}

void Dispatcher::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++generation_;
  }
  // One idle worker looks; one that leases a full batch passes the wake on
  // (WorkerLoop). Waking all of them for every accepted event cost more CPU
  // in futex wake-ups and context switches than the intake itself.
  work_cv_.notify_one();
}

void Dispatcher::WakeAll() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++generation_;
  }
  work_cv_.notify_all();
}

void Dispatcher::NudgeTicker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++ticks_;
  }
  ticker_cv_.notify_all();
}

void Dispatcher::ReloadSyncState() {
  sync_enabled_ = states_->GetSyncState(options_.plugin).enabled;
  WakeAll();
}

void Dispatcher::DisableSync(const std::string& reason) {
  bool was_enabled = sync_enabled_.exchange(false);
  if (!was_enabled) return;
  std::string full = "CRM refused our credentials: " + reason;
  try {
    states_->SetSyncState(options_.plugin, false, full);
  } catch (const std::exception& e) {
    ComponentLogger("dispatch").error("cannot persist disabled sync: %s", std::string(e.what()));
  }
  // The health monitor raises the alert (once per episode) from the stored state.
  ComponentLogger("dispatch")
      .error("sync disabled for plugin %s: %s; jobs wait until "
             "POST /api/v1/admin/sync/enable or `crmsync sync enable`",
             options_.plugin, full);
  if (options_.on_sync_disabled) options_.on_sync_disabled();
}

void Dispatcher::IdleWait(uint64_t seen_generation, int64_t most_ms) {
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(kIdleRecheck);
  if (most_ms >= 0 && most_ms < wait.count()) wait = std::chrono::milliseconds(most_ms);
  std::unique_lock<std::mutex> lock(mu_);
  work_cv_.wait_for(lock, wait,
                    [&] { return stopping_.load() || generation_ != seen_generation; });
}

void Dispatcher::ReportBudgetProblem(const std::string& problem) {
  const int64_t now = clock_->NowMs();
  int64_t unsaid = 0;
  {
    std::lock_guard<std::mutex> lock(budget_problem_mu_);
    if (budget_problem_logged_ms_ >= 0 && now - budget_problem_logged_ms_ < 60000) {
      ++budget_problems_unsaid_;
      return;
    }
    budget_problem_logged_ms_ = now;
    unsaid = budget_problems_unsaid_;
    budget_problems_unsaid_ = 0;
  }
  ComponentLogger("dispatch")
      .warning("plugin %s: budget headers ignored: %s%s", options_.plugin, MaskSensitive(problem),
               unsaid > 0 ? " (and " + std::to_string(unsaid) + " more in the last minute)"
                          : std::string());
}

void Dispatcher::WorkerLoop() {
  Poco::Logger& log = ComponentLogger("dispatch");
  while (!stopping_.load()) {
    uint64_t generation = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      generation = generation_;
    }
    int64_t now = clock_->NowMs();
    if (!options_.crm_enabled || !sync_enabled_.load()) {
      IdleWait(generation);
      continue;
    }
    // Nothing is leased that the rate limit would not let go now.
    int64_t ready_at = now;
    const int64_t sendable = limiter_.Sendable(now, options_.lease_batch, &ready_at);
    if (sendable == 0) {
      if (!ExpireHeldJobs(now)) IdleWait(generation, ready_at - now);
      continue;
    }
    int admit = breaker_.Admit(now);
    if (admit == 0) {
      if (!ExpireHeldJobs(now)) IdleWait(generation);
      continue;
    }
    bool probe = admit == 1;
    std::vector<LeasedJob> jobs;
    // A batch request takes one token for up to max_batch_size jobs.
    const int64_t most = std::min<int64_t>(
        options_.lease_batch,
        sendable * std::max<int64_t>(1, static_cast<int64_t>(capabilities_.max_batch_size)));
    try {
      jobs = store_->Lease(options_.plugin, probe ? 1 : static_cast<int>(most), now,
                           options_.lease_ms);
    } catch (const std::exception& e) {
      log.error("leasing jobs failed: %s", std::string(e.what()));
    }
    if (jobs.empty()) {
      if (probe) breaker_.AbandonProbe();
      IdleWait(generation);
      continue;
    }
    // A full lease suggests more is ready: hand the wake on to an idle worker.
    if (!probe && static_cast<int64_t>(jobs.size()) >= most) Wake();
    std::vector<JobOutcome> outcomes = RunLeased(jobs, probe);
    bool delayed = false;
    int64_t finished = 0;
    for (size_t i = 0; i < outcomes.size(); ++i) {
      const JobOutcome& outcome = outcomes[i];
      if (outcome.kind == JobOutcome::Kind::kDone) {
        LogWith(log, Poco::Message::PRIO_DEBUG, "synced",
                {{"job_id", std::to_string(jobs[i].id)},
                 {"event_id", jobs[i].event_id},
                 {"entity", std::string(EntityKindName(jobs[i].kind)) + ":" + jobs[i].entity_id},
                 {"plugin", options_.plugin}});
      }
      if (outcome.kind == JobOutcome::Kind::kDone || outcome.kind == JobOutcome::Kind::kDeadLetter) {
        ++finished;
      } else {
        delayed = true;
      }
      if (metrics_) {
        static const char* kNames[] = {"done", "retry", "released", "dead_lettered"};
        metrics_
            ->GetCounter("crmsync_jobs_finished_total", "Leases ended, by result.",
                         {{"plugin", options_.plugin},
                          {"result", kNames[static_cast<int>(outcome.kind)]}})
            .Inc();
      }
    }
    // A probe that never got an answer from the CRM (released, or dead-lettered
    // before sending, e.g. an unreadable payload) gave the breaker no verdict:
    // let the next one through. After a verdict this changes nothing.
    if (probe) breaker_.AbandonProbe();
    // The worker goes on to its next lease while the outcomes are written: that
    // lease comes after them in the store's write order, so it sees them, and
    // both usually share one commit. jobs_finished counts them once durable.
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++pending_completes_;
    }
    const size_t count = outcomes.size();
    store_->CompleteAsync(
        options_.plugin, std::move(outcomes), clock_->NowMs(),
        [this, finished, count](std::exception_ptr error) {
          if (error) {
            try {
              std::rethrow_exception(error);
            } catch (const std::exception& e) {
              // The leases stay; they expire and the jobs run again (in doubt).
              ComponentLogger("dispatch").error("recording %s job outcome(s) failed: %s",
                                                std::to_string(count), std::string(e.what()));
            }
          } else {
            jobs_finished_.fetch_add(finished);
          }
          {
            std::lock_guard<std::mutex> lock(mu_);
            --pending_completes_;
          }
          exit_cv_.notify_all();
        });
    if (delayed) NudgeTicker();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    --running_workers_;
  }
  exit_cv_.notify_all();
}

bool Dispatcher::ExpireHeldJobs(int64_t now) {
  // Nothing is sent while the breaker is open (but for probes) or a 429 storm
  // pauses the plugin. Once that has lasted longer than crm.retry.max_outage,
  // the jobs it holds are not left to wait one probe or one 429 at a time:
  // each one held that long is dead-lettered ("CRM unavailable since ..."),
  // the rest wait for the next probe or the end of the pause. Not while
  // half-open: the probe is out and decides.
  int64_t since = -1;
  int64_t release_at = 0;
  bool storm = false;
  if (breaker_.state(now) == CircuitBreaker::State::kOpen) {
    since = breaker_.outage_since_ms();
    release_at = breaker_.open_until_ms();
  } else if (limiter_.paused_until_ms() > now) {
    since = limiter_.storm_since_ms();
    release_at = limiter_.paused_until_ms();
    storm = true;
  }
  if (since < 0 || options_.max_outage_ms <= 0 || now - since < options_.max_outage_ms) {
    return false;
  }
  std::vector<LeasedJob> jobs;
  try {
    jobs = store_->Lease(options_.plugin, options_.lease_batch, now, options_.lease_ms);
  } catch (const std::exception& e) {
    ComponentLogger("dispatch").error("leasing jobs failed: %s", std::string(e.what()));
    return false;
  }
  if (jobs.empty()) return false;
  std::vector<JobOutcome> outcomes;
  for (const LeasedJob& job : jobs) {
    outcomes.push_back(runner_->HoldThroughOutage(job, since, release_at, storm));
    if (outcomes.back().kind == JobOutcome::Kind::kDeadLetter) jobs_finished_.fetch_add(1);
  }
  try {
    store_->Complete(options_.plugin, outcomes, clock_->NowMs());
  } catch (const std::exception& e) {
    ComponentLogger("dispatch").error("recording %s job outcome(s) failed: %s",
                                      std::to_string(outcomes.size()), std::string(e.what()));
  }
  return true;
}

void Dispatcher::TickerLoop(int64_t sync_read_at) {
  Poco::Logger& log = ComponentLogger("dispatch");
  while (!stopping_.load()) {
    uint64_t ticks = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ticks = ticks_;
    }
    int64_t wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(kIdleRecheck).count();
    try {
      int64_t now = clock_->NowMs();
      // Another engine sharing the store may have disabled or enabled sync.
      if (now - sync_read_at >= kSyncStateRecheckMs || now < sync_read_at) {
        sync_read_at = now;
        bool enabled = states_->GetSyncState(options_.plugin).enabled;
        if (sync_enabled_.exchange(enabled) != enabled && enabled) WakeAll();
      }
      if (store_->Promote(now) > 0) WakeAll();
      int64_t next = store_->NextDueMs();
      if (next >= 0) wait_ms = std::clamp<int64_t>(next - now, 1, wait_ms);
      int64_t breaker_at = breaker_.open_until_ms();
      if (breaker_at > now) wait_ms = std::clamp<int64_t>(breaker_at - now, 1, wait_ms);
      int64_t paused = limiter_.paused_until_ms();
      if (paused > now) wait_ms = std::clamp<int64_t>(paused - now, 1, wait_ms);
    } catch (const std::exception& e) {
      log.error("promoting due jobs failed: %s", std::string(e.what()));
    }
    std::unique_lock<std::mutex> lock(mu_);
    ticker_cv_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                        [&] { return stopping_.load() || ticks_ != ticks; });
  }
}

std::vector<JobOutcome> Dispatcher::RunLeased(const std::vector<LeasedJob>& jobs, bool probe) {
  std::vector<JobOutcome> outcomes(jobs.size());
  // Jobs the plugin can take together go in batches of up to max_batch_size per
  // step kind; the rest run one by one. Outcomes keep the leased order.
  std::vector<size_t> singles;
  std::vector<size_t> by_kind[2];  // creates, updates
  for (size_t i = 0; i < jobs.size(); ++i) {
    std::optional<StepKind> kind = probe ? std::nullopt : runner_->BatchStep(jobs[i]);
    if (!kind) {
      singles.push_back(i);
    } else {
      by_kind[*kind == StepKind::kCreate ? 0 : 1].push_back(i);
    }
  }
  const size_t max_batch = std::max<uint32_t>(1, capabilities_.max_batch_size);
  for (int k = 0; k < 2; ++k) {
    const std::vector<size_t>& group = by_kind[k];
    for (size_t start = 0; start < group.size(); start += max_batch) {
      size_t end = std::min(group.size(), start + max_batch);
      if (end - start < 2) {
        singles.insert(singles.end(), group.begin() + static_cast<long>(start),
                       group.begin() + static_cast<long>(end));
        continue;
      }
      std::vector<LeasedJob> batch;
      for (size_t j = start; j < end; ++j) batch.push_back(jobs[group[j]]);
      std::vector<JobOutcome> results =
          runner_->RunBatch(batch, k == 0 ? StepKind::kCreate : StepKind::kUpdate, false);
      for (size_t j = start; j < end; ++j) outcomes[group[j]] = std::move(results[j - start]);
    }
  }
  std::sort(singles.begin(), singles.end());
  for (size_t i : singles) outcomes[i] = runner_->Run(jobs[i], probe);
  return outcomes;
}

DispatchStatus Dispatcher::Status() const {
  const int64_t now = clock_->NowMs();
  DispatchStatus status;
  status.workers = options_.workers;
  status.sync_enabled = sync_enabled_.load();
  status.circuit = breaker_.state(now);
  status.circuit_opened_total = breaker_.opened_total();
  if (status.circuit != CircuitBreaker::State::kClosed) status.probe_at_ms = breaker_.open_until_ms();
  const RateLimitState rate = limiter_.State(now);
  status.rate_per_s = rate.rate;
  status.rate_limited_total = rate.rate_limited;
  status.rate_windows_total = rate.windows;
  if (rate.paused_until_ms > now) status.paused_until_ms = rate.paused_until_ms;
  if (rate.window_until_ms > now) status.window_until_ms = rate.window_until_ms;
  if (rate.budget_known) {
    status.budget = DispatchStatus::Budget{rate.budget_remaining, rate.budget_reset_ms, rate.pacing};
  }
  status.jobs_finished = jobs_finished_.load();
  return status;
}

}  // namespace crmsync::engine
