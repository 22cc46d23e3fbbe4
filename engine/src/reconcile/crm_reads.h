// reconcile/crm_reads.h: the CRM reads of reconcile and resync, each within
// the plugin's rate budget.
//
// Every call takes a ticket from the dispatcher's RateLimiter first (as the
// poller does, inbound/poller.h), waiting for it while the budget is spent,
// and hands the answer back to it. A call that fails for a while (transport,
// 5xx, 429) is tried again, kTries times at most, with a growing wait (or the
// CRM's Retry-After). Lookups by reference go through the plugin's own
// transport, as the job runner's do.
//
// When the service stops, a call waiting for its turn returns kRetryable
// ("stopping") at once; the caller sees RunWorker::Stopping() and returns.
// Used from one run thread at a time; counts its calls for the run's report.
#ifndef CRMSYNC_ENGINE_RECONCILE_CRM_READS_H_
#define CRMSYNC_ENGINE_RECONCILE_CRM_READS_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "crmsync/records.h"
#include "dispatch/rate_limiter.h"
#include "plugin_host/guarded_adapter.h"
#include "reconcile/run_book.h"

namespace crmsync::engine {

class CrmReads {
 public:
  /// Tries of one call before its failure is the answer.
  static constexpr int kTries = 4;
  /// The first wait after a failure, by default; it doubles.
  static constexpr int64_t kFirstBackoffMs = 500;

  /// All pointers borrowed; `limiter` may be null (no budget).
  CrmReads(GuardedAdapter* adapter, RateLimiter* limiter, Clock* clock, RunWorker* worker,
           int64_t first_backoff_ms = kFirstBackoffMs)
      : adapter_(adapter),
        limiter_(limiter),
        clock_(clock),
        worker_(worker),
        first_backoff_ms_(first_backoff_ms) {}

  /// One page of records. kNotFound: the plugin cannot list that kind.
  Status ListRecords(const RecordListRequest& request, RecordListPage* page);
  /// One record by CRM id. kNotFound only when the CRM said it has none.
  Status ReadRecord(EntityKind kind, const std::string& external_id, CrmRecord* record);
  /// Looks `job`'s record up by its reference: `*found` its CRM id, or
  /// nullopt when the CRM has none. A failed lookup is an error, never "none".
  Status Lookup(const SyncJob& job, std::optional<std::string>* found);

  /// CRM calls made so far.
  int64_t calls() const { return calls_.load(); }

 private:
  // Runs `call` (one CRM request) within the budget, again while it fails
  // transiently. `call` returns the status and whether the CRM answered.
  template <typename F>
  Status Within(F&& call);

  GuardedAdapter* adapter_;
  RateLimiter* limiter_;
  Clock* clock_;
  RunWorker* worker_;
  int64_t first_backoff_ms_;
  std::atomic<int64_t> calls_{0};
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_RECONCILE_CRM_READS_H_
