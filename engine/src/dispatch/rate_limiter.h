// dispatch/rate_limiter.h: the plugin-wide request rate, 429 windows and the
// CRM's budget.
//
// Every request takes a ticket (TryAcquire) and every answer comes back with it
// (OnAnswer): the ticket says which 429 window the request was sent in, so the
// limiter reacts once per window, never once per 429 (docs/design.md §4, "Rate
// limits"):
//
//  * The window. A 429 to a request sent in the current window, when no window
//    is open, opens one, max(Retry-After, 1 s) long, and cuts the rate once: to
//    kCutFactor of what the CRM took (answered other than 429) over the last
//    second, or, with fewer than kMinEvidence answers in that second, to
//    kCutFactor of the current rate (an unlimited rate is then left alone).
//    Every other 429 (sent before the window opened, or answered while it is
//    open) changes nothing: only its own job waits its Retry-After.
//  * The pause. A 429 alone does not stop the plugin: at 2% random 429s a
//    pause per window would stop it all the time. Everything waits until a
//    429's Retry-After when the CRM refuses even the cut rate: a request sent
//    inside the open window is answered 429 before any request sent inside it
//    got another answer.
//  * Recovery. From the cut (or the end of a pause after it) the rate doubles
//    every second, also while 429s go on, until it is the configured rate again
//    or, when unlimited, kLiftFactor times what the CRM took when it was cut;
//    then it is unlimited again. A cut of kCutFactor is undone in a third of a
//    second, unlimited is back 1.3 s after a cut.
//  * The budget. Answers that state the CRM's budget (crmsync/rate_limit.h)
//    set it, newest request first; each request sent since counts against it.
//    When nothing is left, everything waits for the reset (at most
//    kMaxBudgetPauseMs, then requests go and their answers tell again). When
//    the rest would last less than a second at the rate of the last second (or
//    less than the time left), it is spread evenly over the time left to the
//    reset, until the budget refills.
//
// A run of 429s with no other answer in between is a storm (storm_since_ms),
// which crm.retry.max_outage bounds. Thread-safe; time comes from the caller.
// An answer that is neither a 429 nor carries a budget takes no lock.
#ifndef CRMSYNC_ENGINE_DISPATCH_RATE_LIMITER_H_
#define CRMSYNC_ENGINE_DISPATCH_RATE_LIMITER_H_

#include <atomic>
#include <cstdint>
#include <mutex>

#include "crmsync/rate_limit.h"
#include "crmsync/status.h"

namespace crmsync::engine {

/// What the limiter knew when a request went out; handed back with its answer.
struct RateTicket {
  uint64_t seq = 0;     ///< The request's number, 1 for the first (0: none taken).
  uint64_t window = 0;  ///< The 429 window it was sent in (0 before the first).
};

/// One HTTP answer from the CRM (transport errors are not answers).
struct RateAnswer {
  bool rate_limited = false;    ///< Classified kRateLimited (a 429).
  int64_t retry_after_ms = -1;  ///< Its Retry-After; -1 when none.
  /// What its budget headers say; nullptr when it states none.
  const RateLimitBudget* budget = nullptr;
};

/// True when a plugin call's status is the CRM's answer: any code but
/// kRetryable and kInternal, which may be a transport failure or a plugin
/// fault. Only answers go to RateLimiter::OnAnswer (the poller, the inbound
/// fetch and reconcile's reads, which see a Status, not the HttpResponse).
bool IsCrmAnswer(const crmsync::Status& s);
/// The answer `s` stands for: a 429 (kRateLimited) and its Retry-After.
RateAnswer RateAnswerOf(const crmsync::Status& s);

/// The limiter as ops see it (`crmsync status`, the UI, metrics).
struct RateLimitState {
  double rate = 0;               ///< Requests per second now; 0 for unlimited.
  int64_t paused_until_ms = 0;   ///< No request before this.
  int64_t window_until_ms = 0;   ///< The open 429 window ends here; 0 when none is open.
  int64_t windows = 0;           ///< 429 windows opened (rate cuts considered).
  int64_t rate_limited = 0;      ///< 429 answers.
  bool budget_known = false;     ///< An answer stated a budget that has not reset yet.
  int64_t budget_remaining = 0;  ///< Its requests left, less those sent since.
  int64_t budget_reset_ms = 0;   ///< When it refills.
  bool pacing = false;           ///< The rest of the budget is spread until then.
};

class RateLimiter {
 public:
  /// Cut to this share of what the CRM took over the last second.
  static constexpr double kCutFactor = 0.8;
  /// Growth per second after a cut.
  static constexpr double kGrowthPerSecond = 2.0;
  /// Unlimited again at this multiple of what the CRM took when cut.
  static constexpr double kLiftFactor = 2.0;
  /// Answers within the last second needed to cut on what the CRM took.
  static constexpr int64_t kMinEvidence = 10;
  /// Shortest 429 window.
  static constexpr int64_t kMinWindowMs = 1000;
  /// Longest wait for a spent budget's reset before asking again.
  static constexpr int64_t kMaxBudgetPauseMs = 60000;
  /// The lowest rate a cut leaves, per second.
  static constexpr double kMinRate = 1.0;

  /// `rate_per_s` 0 means unlimited.
  explicit RateLimiter(double rate_per_s) : configured_rate_(rate_per_s) {}

  /// Takes one token: returns 0 when the request may go now (and sets
  /// *ticket, when given, to hand back with its answer), else how many ms to
  /// wait before asking again (no token is taken then).
  int64_t TryAcquire(int64_t now_ms, RateTicket* ticket = nullptr);
  /// The CRM answered the request `ticket` was taken for.
  void OnAnswer(int64_t now_ms, const RateTicket& ticket, const RateAnswer& answer);
  /// How many requests may go now without waiting (capped at `most`); when
  /// none, *ready_at_ms is when the next may (else it is now_ms).
  int64_t Sendable(int64_t now_ms, int64_t most, int64_t* ready_at_ms) const;

  /// When the current run of 429s began (its first 429), or -1 when the last
  /// answer was not a 429. Bounds how long a job waits out a storm
  /// (crm.retry.max_outage).
  int64_t storm_since_ms() const { return storm_since_ms_.load(); }
  /// No request may be sent before this time.
  int64_t paused_until_ms() const { return paused_until_ms_.load(); }
  /// The rate in requests per second at `now_ms`; 0 when unlimited.
  double current_rate(int64_t now_ms) const;
  RateLimitState State(int64_t now_ms) const;
  /// Requests that had to wait, 429s seen, and 429 windows opened.
  int64_t waits() const;
  int64_t rate_limited_total() const;
  int64_t windows_total() const;

 private:
  // The cut rate grown until `now`: 0 when no cut holds (then the configured
  // rate applies); *lifted when growth has reached the configured rate, or
  // kLiftFactor times the cut's base when unlimited.
  double CutRateLocked(int64_t now, bool* lifted) const;
  // The configured or cut rate and the budget's pace, whichever is lower; 0
  // when neither limits. *pacing when the budget's pace does.
  double RateLocked(int64_t now, bool* pacing) const;
  // Requests the budget still allows (-1 when none is known).
  int64_t BudgetLeftLocked(int64_t now) const;
  // Requests sent and answers other than 429 per second over the last second
  // (or since counting began, when that is shorter), and how many answers of
  // any kind came in that time.
  void RatesLocked(int64_t now, double* sent, double* ok, double* answers) const;
  void RollLocked(int64_t now);
  void RefillLocked(int64_t now, double rate, bool pacing);
  void CutLocked(int64_t now);
  void PauseLocked(int64_t until);
  void BudgetLocked(int64_t now, const RateTicket& ticket, const RateLimitBudget& budget);

  mutable std::mutex mu_;
  const double configured_rate_;
  // The cut: a rate that grows from grow_from_ms_; 0 when none holds.
  double cut_rate_ = 0;
  double cut_base_ = 0;  // what the CRM took per second when it was cut
  int64_t grow_from_ms_ = 0;
  // The token bucket.
  double tokens_ = 1;
  int64_t last_refill_ms_ = 0;
  // 429 windows.
  uint64_t window_ = 0;
  int64_t window_end_ms_ = 0;
  // The newest window in which a request sent got an answer other than 429.
  std::atomic<uint64_t> ok_window_{0};
  std::atomic<int64_t> paused_until_ms_{0};
  std::atomic<int64_t> storm_since_ms_{-1};
  // One-second buckets: requests sent, answers other than 429 (from
  // ok_total_, counted without the lock) and 429s, in the bucket that began
  // at bucket_start_ms_ and in the one before it.
  std::atomic<int64_t> ok_total_{0};
  int64_t stats_start_ms_ = 0;  // counting began (first request, end of a pause)
  int64_t bucket_start_ms_ = 0;
  int64_t sent_now_ = 0, sent_before_ = 0;
  int64_t ok_base_ = 0, ok_before_ = 0;
  int64_t limited_now_ = 0, limited_before_ = 0;
  // The budget: `budget_remaining_` as of request `budget_seq_`; refills at
  // budget_reset_ms_.
  uint64_t send_seq_ = 0;
  bool budget_known_ = false;
  int64_t budget_remaining_ = 0;
  uint64_t budget_seq_ = 0;
  int64_t budget_reset_ms_ = 0;
  bool pacing_ = false;
  int64_t waits_ = 0;
  int64_t rate_limited_total_ = 0;
  int64_t windows_total_ = 0;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_DISPATCH_RATE_LIMITER_H_
