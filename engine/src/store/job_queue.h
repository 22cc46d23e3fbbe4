// store/job_queue.h: the JobQueue role of the engine's durable state. Each caller
// depends on the role it uses; Store (store.h) is every role at once.
// Methods throw StoreError on storage failure. Implementations are thread-safe.
#ifndef CRMSYNC_ENGINE_STORE_JOB_QUEUE_H_
#define CRMSYNC_ENGINE_STORE_JOB_QUEUE_H_

#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "queue/queue_types.h"

namespace crmsync::engine {

/// The dispatcher's side: lease ready jobs, record outcomes, move due ones.
class JobQueue {
 public:
  virtual ~JobQueue() = default;

  /// Leases up to `max_jobs` ready jobs, high priority first, oldest first within
  /// a priority, never two of one entity; each lease expires at now + lease_ms.
  /// Links are read for `plugin`.
  virtual std::vector<LeasedJob> Lease(const std::string& plugin, int max_jobs, int64_t now_ms,
                                       int64_t lease_ms) = 0;

  /// Records outcomes (links for `plugin`, attempts, dead letters) and makes the
  /// next job of each finished entity ready. Durable when it returns. An outcome
  /// whose lease is no longer current is ignored.
  virtual void Complete(const std::string& plugin, const std::vector<JobOutcome>& outcomes,
                        int64_t now_ms) = 0;

  /// Complete() without holding the caller: `done` runs once the outcomes are
  /// durable (or failed: `error` set, nothing of them written). A write the
  /// caller submits afterwards (its next Lease) sees them. The default runs
  /// Complete() in the caller's thread.
  virtual void CompleteAsync(const std::string& plugin, std::vector<JobOutcome> outcomes,
                             int64_t now_ms, std::function<void(std::exception_ptr)> done) {
    try {
      Complete(plugin, outcomes, now_ms);
    } catch (...) {
      done(std::current_exception());
      return;
    }
    done(nullptr);
  }

  /// Moves delayed jobs whose time has come to ready, and leases that expired
  /// back to ready (marked in doubt); returns how many jobs moved.
  virtual int64_t Promote(int64_t now_ms) = 0;

  /// Returns every leased job to ready (marked in doubt): at start-up, for the
  /// leases a previous process held.
  virtual int64_t ReleaseAllLeases() = 0;

  /// The earliest time a delayed job or a lease falls due, or -1 when none.
  virtual int64_t NextDueMs() = 0;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_STORE_JOB_QUEUE_H_
