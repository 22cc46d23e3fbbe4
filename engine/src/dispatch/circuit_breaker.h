// dispatch/circuit_breaker.h: one breaker per plugin, so a CRM outage holds
// every job instead of burning their attempts.
//
// Closed: jobs run; `failure_threshold` consecutive network/5xx failures open
// it. Open: no job is leased until `open_ms` has passed; then half-open: one
// probe job is let through. The probe's success closes the breaker; its failure
// reopens it for twice as long (up to `max_open_ms`). The outage's start is
// kept until a success, so the dispatcher can bound how long a job is held
// (crm.retry.max_outage). Thread-safe.
#ifndef CRMSYNC_ENGINE_DISPATCH_CIRCUIT_BREAKER_H_
#define CRMSYNC_ENGINE_DISPATCH_CIRCUIT_BREAKER_H_

#include <cstdint>
#include <mutex>

namespace crmsync::engine {

class CircuitBreaker {
 public:
  enum class State { kClosed, kOpen, kHalfOpen };

  CircuitBreaker(int failure_threshold, int64_t open_ms, int64_t max_open_ms)
      : threshold_(failure_threshold), base_open_ms_(open_ms), max_open_ms_(max_open_ms) {}

  /// How many jobs a worker may lease now: -1 for no limit (closed), 1 for the
  /// probe (the caller then owns it and must report its result), 0 for none.
  int Admit(int64_t now_ms);
  /// A try reached the CRM and got a non-transient answer (2xx or a 4xx).
  void RecordSuccess();
  /// A try failed with a network error, timeout, 408 or 5xx. Returns true when
  /// this failure opened the breaker.
  bool RecordFailure(int64_t now_ms);
  /// The probe ended without a verdict (e.g. released on shutdown): let another through.
  void AbandonProbe();

  State state(int64_t now_ms) const;
  /// When an open breaker lets its probe through.
  int64_t open_until_ms() const;
  /// When the outage the breaker is open for began: the first failure of the
  /// run that opened it, kept through failed probes; -1 while closed.
  int64_t outage_since_ms() const;
  /// How many times the breaker has opened.
  int64_t opened_total() const;

 private:
  mutable std::mutex mu_;
  int threshold_;
  int64_t base_open_ms_;
  int64_t max_open_ms_;
  State state_ = State::kClosed;
  int consecutive_failures_ = 0;
  int64_t first_failure_ms_ = -1;  // of the current run of failures
  int64_t outage_since_ms_ = -1;
  int64_t open_until_ms_ = 0;
  int64_t current_open_ms_ = 0;
  bool probe_out_ = false;
  int64_t opened_total_ = 0;
};

const char* CircuitStateName(CircuitBreaker::State state) noexcept;

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_DISPATCH_CIRCUIT_BREAKER_H_
