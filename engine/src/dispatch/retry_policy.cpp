// The retry schedule; see retry_policy.h.
#include "dispatch/retry_policy.h"

#include <algorithm>

namespace crmsync::engine {

namespace {
constexpr int64_t kMaxDelayMs = 24LL * 3600 * 1000;
}

int64_t RetryPolicy::BaseDelayMs(int tries_failed) const {
  if (tries_failed < 1) tries_failed = 1;
  int64_t delay = base_delay_ms_;
  for (int i = 1; i < tries_failed && delay < kMaxDelayMs; ++i) delay *= 2;
  return std::min(delay, kMaxDelayMs);
}

int64_t RetryPolicy::DelayMs(int tries_failed, double random_unit) const {
  int64_t full = BaseDelayMs(tries_failed);
  if (!jitter_) return full;
  double unit = std::clamp(random_unit, 0.0, 1.0);
  return full / 2 + static_cast<int64_t>(static_cast<double>(full - full / 2) * unit);
}

}  // namespace crmsync::engine
