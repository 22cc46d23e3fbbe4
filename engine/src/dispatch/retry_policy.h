// dispatch/retry_policy.h: the retry schedule of docs/design.md §4, in one place.
//
// After the n-th failed try (n = 1, 2, ...) the next try waits
// base_delay_ms * 2^(n-1) (1, 2, 4, 8, 16 s with the defaults); after
// 1 + max_retries tries the job goes to the dead-letter queue. With jitter the
// wait is drawn uniformly from [wait/2, wait] so failed jobs do not retry in
// lockstep. Immutable after construction; thread-safe.
#ifndef CRMSYNC_ENGINE_DISPATCH_RETRY_POLICY_H_
#define CRMSYNC_ENGINE_DISPATCH_RETRY_POLICY_H_

#include <cstdint>

namespace crmsync::engine {

class RetryPolicy {
 public:
  /// `base_delay_ms` is CRM_RETRY_DELAY, `max_retries` CRM_RETRY_ATTEMPTS.
  RetryPolicy(int64_t base_delay_ms, int max_retries, bool jitter)
      : base_delay_ms_(base_delay_ms), max_retries_(max_retries), jitter_(jitter) {}

  /// True when a job that has now failed `tries_failed` times may try again.
  bool MayRetry(int tries_failed) const { return tries_failed <= max_retries_; }

  /// The wait after the `tries_failed`-th failed try, without jitter. Capped at
  /// one day so a large retry count cannot overflow.
  int64_t BaseDelayMs(int tries_failed) const;

  /// The wait to use: BaseDelayMs, or with jitter a value in [half, full]
  /// chosen by `random_unit` (a number in [0, 1)).
  int64_t DelayMs(int tries_failed, double random_unit) const;

  int max_retries() const { return max_retries_; }
  bool jitter() const { return jitter_; }

 private:
  int64_t base_delay_ms_;
  int max_retries_;
  bool jitter_;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_DISPATCH_RETRY_POLICY_H_
