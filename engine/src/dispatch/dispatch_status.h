// dispatch/dispatch_status.h: what the dispatcher shows ops about itself at
// one moment: its workers, whether sync runs, the circuit breaker and the rate
// limiter. A plain value; the admin API renders it (admin/runtime_status.h).
#ifndef CRMSYNC_ENGINE_DISPATCH_DISPATCH_STATUS_H_
#define CRMSYNC_ENGINE_DISPATCH_DISPATCH_STATUS_H_

#include <cstdint>
#include <optional>

#include "dispatch/circuit_breaker.h"

namespace crmsync::engine {

struct DispatchStatus {
  int workers = 0;
  bool sync_enabled = true;

  CircuitBreaker::State circuit = CircuitBreaker::State::kClosed;
  /// How many times the breaker has opened.
  int64_t circuit_opened_total = 0;
  /// When the breaker lets its probe through; set while it is not closed.
  std::optional<int64_t> probe_at_ms;

  /// Requests per second the limiter lets go now; 0 for unlimited.
  double rate_per_s = 0;
  /// 429 answers, and 429 windows opened.
  int64_t rate_limited_total = 0;
  int64_t rate_windows_total = 0;
  /// No request before this; set while such a pause lasts.
  std::optional<int64_t> paused_until_ms;
  /// The open 429 window ends here; set while one is open.
  std::optional<int64_t> window_until_ms;
  /// The budget the CRM stated, while it has not reset.
  struct Budget {
    int64_t remaining = 0;  ///< Requests left, less those sent since.
    int64_t reset_ms = 0;   ///< When it refills.
    bool pacing = false;    ///< The rest is spread until then.
  };
  std::optional<Budget> budget;

  /// Jobs finished (done or dead-lettered) by this process.
  int64_t jobs_finished = 0;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_DISPATCH_DISPATCH_STATUS_H_
