// shadow/shadow_runner.h: shadow mode (docs/design.md §11). A second adapter,
// the shadow (crm.shadow.plugin with crm.shadow.mapping), is shown every job
// the live adapter ran: it plans the same SyncJob and builds each step's
// request, prepared by its transport as it would be sent, and the runner
// records where that differs from the live adapter's request (plan, method,
// path, body pointers) in a ShadowSummary. Nothing is sent, unless
// crm.shadow.url names a sandbox: then the shadow's requests go there and the
// answers' statuses are counted; a record the sandbox created is named by its
// sandbox id in later requests (remembered in memory, not across restarts).
//
// The live job never waits for any of it: Offer() only queues, on a bounded
// queue (crm.shadow.queue); a job offered to a full queue is dropped and
// counted. One thread of the runner's own compares. The summary is saved in
// the PluginStates role (plugin "crmsync.shadow", key "summary") at most once
// a second (save_interval_ms) while it changes, on Reset() and on Stop(), and
// loaded at construction, so it survives a restart.
//
// Offer(), Report(), Figures() and Reset() from any thread; Start/Stop from one.
#ifndef CRMSYNC_ENGINE_SHADOW_SHADOW_RUNNER_H_
#define CRMSYNC_ENGINE_SHADOW_SHADOW_RUNNER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/request_mask.h"
#include "common/wake_loop.h"
#include "dispatch/job_runner.h"
#include "metrics/metrics.h"
#include "plugin_host/guarded_adapter.h"
#include "shadow/shadow_summary.h"
#include "store/plugin_states.h"

namespace crmsync::engine {

/// Where the summary is kept (PluginStates).
inline constexpr char kShadowStatePlugin[] = "crmsync.shadow";
inline constexpr char kShadowStateKey[] = "summary";

struct ShadowOptions {
  std::string plugin;   ///< crm.shadow.plugin.
  std::string mapping;  ///< crm.shadow.mapping, as resolved; "" when none.
  std::string url;      ///< crm.shadow.url: the sandbox; "" sends nothing.
  size_t capacity = 1000;  ///< crm.shadow.queue.
  /// The secret settings' values, masked wherever they appear.
  std::vector<std::string> secrets;
  /// How often the summary is saved while the queue stays busy.
  int64_t save_interval_ms = 1000;
};

class ShadowRunner {
 public:
  /// `live` and `shadow` (not owned) are configured adapters; `states` (not
  /// owned) keeps the summary; `metrics` may be nullptr. Loads the saved
  /// summary; one of another plugin or mapping is set aside (logged): the
  /// summary starts empty.
  ShadowRunner(ShadowOptions options, GuardedAdapter* live, GuardedAdapter* shadow,
               PluginStates* states, Clock* clock, MetricsRegistry* metrics);
  ~ShadowRunner();
  ShadowRunner(const ShadowRunner&) = delete;
  ShadowRunner& operator=(const ShadowRunner&) = delete;

  /// Queues `job` for comparison; never blocks. False when the queue is full:
  /// the job is dropped and counted.
  bool Offer(BuiltJob&& job);

  /// Starts the comparing thread.
  void Start();
  /// Finishes the job in hand, counts the ones still queued as dropped, saves
  /// the summary and joins the thread. Idempotent.
  void Stop();
  /// Compares every job queued now on the caller's thread (tests, and the
  /// thread's pass).
  void Drain();

  /// GET /api/v1/shadow's answer: {"enabled": true, "queue": {"depth",
  /// "capacity"}, then ShadowSummary::Write()'s members (the 20 most frequent
  /// differences)}.
  std::string Report();
  ShadowFigures Figures();
  /// Forgets the summary (a new mapping version starts clean) and saves the
  /// empty one.
  void Reset();

 private:
  // `example`: render the example of a differing step.
  ShadowJobResult Compare(const BuiltJob& job, bool example);
  // The step example: both requests as prepared, masked, and the differences.
  std::string Example(const std::string& step, const HttpRequest& live, const HttpRequest& shadow,
                      const RequestDifference& d);
  std::string Prepared(GuardedAdapter& adapter, const HttpRequest& request);
  // The sandbox created `sandbox_id` for the live record `live_id`.
  void RememberSandboxId(const std::string& live_id, const std::string& sandbox_id);
  void FoldDrops();  // Under summary_mu_.
  void Save();       // Under summary_mu_; folds the drops in first.

  const ShadowOptions options_;
  GuardedAdapter* live_;
  GuardedAdapter* shadow_;
  PluginStates* states_;
  Clock* clock_;
  MetricsRegistry* metrics_;
  const RequestMask mask_;

  std::mutex queue_mu_;
  std::deque<BuiltJob> queue_;  // Guarded by queue_mu_.
  std::atomic<int64_t> unfolded_drops_{0};
  std::atomic<bool> stopping_{false};

  // The sandbox's id of each live record it created, in memory (the latest
  // kMaxSandboxIds): a later step names it there. Only Drain()'s thread.
  std::unordered_map<std::string, std::string> sandbox_ids_;
  std::deque<std::string> sandbox_order_;

  std::mutex summary_mu_;
  ShadowSummary summary_;     // Guarded by summary_mu_.
  int64_t saved_at_ms_ = 0;   // Guarded by summary_mu_.
  bool dirty_ = false;        // Changed since saved; guarded by summary_mu_.
  int64_t last_example_ms_ = 0;  // When Compare() last rendered one; guarded by summary_mu_.
  std::atomic<bool> started_{false};  // Read by Offer() on the workers' threads.
  bool stopped_ = false;
  WakeLoop loop_;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_SHADOW_SHADOW_RUNNER_H_
