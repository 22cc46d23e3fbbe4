// dispatch/rate_limiter.h: the plugin-wide request rate.
//
// A token bucket at `rate_per_s` (0: unlimited, until the CRM says otherwise).
// A 429 pauses every request until its Retry-After and halves the rate (from
// the rate observed over the last second when unlimited); each later second
// without a 429 raises it by a quarter, back up to the configured rate (or to
// unlimited). Thread-safe; time comes from the caller.
#ifndef CRMSYNC_ENGINE_DISPATCH_RATE_LIMITER_H_
#define CRMSYNC_ENGINE_DISPATCH_RATE_LIMITER_H_

#include <cstdint>
#include <mutex>

namespace crmsync::engine {

class RateLimiter {
 public:
  /// `rate_per_s` 0 means unlimited.
  explicit RateLimiter(double rate_per_s) : configured_rate_(rate_per_s), rate_(rate_per_s) {}

  /// Takes one token: returns 0 when the request may go now, else how many ms
  /// to wait before asking again (no token is taken then).
  int64_t TryAcquire(int64_t now_ms);
  /// The CRM answered 429 with this wait: pause everything and slow down.
  void OnRateLimited(int64_t now_ms, int64_t retry_after_ms);
  /// The CRM answered something other than 429: a run of 429s (a storm) ends.
  void OnAnswered();
  /// When the current run of 429s began (its first 429), or -1 when the last
  /// answer was not a 429. Bounds how long a job waits out a storm
  /// (crm.retry.max_outage).
  int64_t storm_since_ms() const;
  /// No request may be sent before this time.
  int64_t paused_until_ms() const;
  /// The current rate in requests per second; 0 when unlimited.
  double current_rate() const;
  /// Requests that had to wait, and 429s seen.
  int64_t waits() const;
  int64_t rate_limited_total() const;

 private:
  void RecoverLocked(int64_t now_ms);

  mutable std::mutex mu_;
  double configured_rate_;
  double rate_;
  double tokens_ = 1;
  int64_t last_refill_ms_ = 0;
  int64_t paused_until_ms_ = 0;
  int64_t last_429_ms_ = 0;
  int64_t storm_since_ms_ = -1;
  int64_t last_recover_ms_ = 0;
  // Requests sent in the current one-second window, to estimate the rate.
  int64_t window_start_ms_ = 0;
  int64_t window_count_ = 0;
  int64_t last_window_count_ = 0;
  int64_t waits_ = 0;
  int64_t rate_limited_total_ = 0;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_DISPATCH_RATE_LIMITER_H_
