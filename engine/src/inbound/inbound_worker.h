// inbound/inbound_worker.h: applies recorded webhook deliveries to the
// platform's mirror, one delivery per transaction, in arrival order.
//
// A delivery is durable before its 2xx (webhook_handler); this worker picks it
// up, reads the records its notification-only changes name (fetch, below),
// maps CRM agent ids to dealers, and lets the store merge it under the
// field-ownership rules. A crash between the 2xx and processing loses nothing:
// the delivery stays pending. One thread; Wake() from any thread.
//
// Fetch (InboundChange::fetch, docs/design.md §5): each such change is filled
// through Adapter::FetchChange, one request of the dispatcher's rate budget
// each. kNotFound drops the change (audited "inbound_fetch_gone"); kRetryable,
// kRateLimited, kInternal and kUnauthenticated (a credential being fixed) hold
// the whole delivery back, pending, for a wait that doubles from
// kFetchRetryFirstMs to kFetchRetryMaxMs (or the plugin's retry-after, when
// longer), while later deliveries go on; any other code drops the change,
// audited "inbound_fetch_failed" and logged, messages masked.
#ifndef CRMSYNC_ENGINE_INBOUND_INBOUND_WORKER_H_
#define CRMSYNC_ENGINE_INBOUND_INBOUND_WORKER_H_

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "common/wake_loop.h"
#include "dispatch/rate_limiter.h"
#include "inbound/agent_directory.h"
#include "metrics/metrics.h"
#include "plugin_host/guarded_adapter.h"
#include "store/inbound_log.h"

namespace crmsync::engine {

/// The first wait of a delivery held back by a fetch that may work later.
constexpr int64_t kFetchRetryFirstMs = 1000;
/// The longest such wait.
constexpr int64_t kFetchRetryMaxMs = 5 * 60 * 1000;

class InboundWorker {
 public:
  InboundWorker(InboundLog* store, InboundRules rules, AgentDirectory* agents, Clock* clock,
                MetricsRegistry* metrics);
  ~InboundWorker();
  InboundWorker(const InboundWorker&) = delete;
  InboundWorker& operator=(const InboundWorker&) = delete;

  void Start();
  /// Finishes the delivery in hand and stops.
  void Stop();
  /// A delivery was recorded.
  void Wake();
  /// Called after a change-feed entry is written (wakes the callback sender).
  void OnChange(std::function<void()> callback) { on_change_ = std::move(callback); }
  /// Where notification-only changes are fetched (before Start()): the
  /// plugin, and the rate budget the fetches share with the dispatcher
  /// (nullptr: no budget). Without an adapter such a change is dropped as
  /// one that cannot be fetched.
  void FetchWith(GuardedAdapter* adapter, RateLimiter* limiter) {
    adapter_ = adapter;
    limiter_ = limiter;
  }

  /// Processes every pending delivery now, on the caller's thread (tests).
  /// Deferred ones (InboundResult::kDeferred) and ones held back by a fetch
  /// stay pending and are not counted; the worker's loop tries them again
  /// within a second (a held-back one once its wait is over).
  int ProcessPending();

 private:
  // A delivery held back by a fetch to try again later, with what its fetches
  // gave so far (by change index), so a delivery of many notifications gets
  // through a tight budget one fetch at a time.
  struct Hold {
    int failures = 0;      // fetches that may work later, in a row
    int64_t until_ms = 0;  // not before
    std::map<size_t, InboundChange> filled;
    std::map<size_t, InboundDrop> dropped;
  };
  // Fetches the delivery's fetch=true changes not in `hold` yet, into it.
  // True when every one is filled or dropped: the delivery then holds the
  // filled changes and delivery->dropped the others. False when the delivery
  // is to wait: *wait_ms at least (0: no minimum), *failed when a fetch failed
  // (else the budget said wait).
  bool FetchChanges(InboundDelivery* delivery, Hold* hold, int64_t* wait_ms, bool* failed);
  void CountFetch(const char* result);
  void MapAgents(InboundDelivery* delivery);

  InboundLog* store_;
  const InboundRules rules_;
  AgentDirectory* agents_;
  Clock* clock_;
  MetricsRegistry* metrics_;
  std::function<void()> on_change_;
  GuardedAdapter* adapter_ = nullptr;
  RateLimiter* limiter_ = nullptr;
  std::map<std::string, Hold> held_;  // by delivery id; used under process_mu_
  std::mutex process_mu_;  // one processing pass at a time
  WakeLoop loop_;  // last: stopped before the members its pass uses
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_INBOUND_INBOUND_WORKER_H_
