// The plugin-wide rate limiter; see rate_limiter.h.
#include "dispatch/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace crmsync::engine {

int64_t RateLimiter::TryAcquire(int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (now_ms < paused_until_ms_) {
    ++waits_;
    return paused_until_ms_ - now_ms;
  }
  if (now_ms - window_start_ms_ >= 1000) {
    last_window_count_ = window_count_;
    window_count_ = 0;
    window_start_ms_ = now_ms;
  }
  RecoverLocked(now_ms);
  if (rate_ <= 0) {
    ++window_count_;
    return 0;
  }
  if (last_refill_ms_ == 0) last_refill_ms_ = now_ms;
  double elapsed_s = static_cast<double>(now_ms - last_refill_ms_) / 1000.0;
  tokens_ = std::min(std::max(1.0, rate_), tokens_ + elapsed_s * rate_);
  last_refill_ms_ = now_ms;
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    ++window_count_;
    return 0;
  }
  ++waits_;
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil((1.0 - tokens_) / rate_ * 1000.0)));
}

void RateLimiter::OnRateLimited(int64_t now_ms, int64_t retry_after_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  ++rate_limited_total_;
  if (storm_since_ms_ < 0) storm_since_ms_ = now_ms;
  paused_until_ms_ = std::max(paused_until_ms_, now_ms + std::max<int64_t>(0, retry_after_ms));
  double base = rate_ > 0 ? rate_
                          : static_cast<double>(std::max(last_window_count_, window_count_));
  rate_ = std::max(1.0, base / 2.0);
  // One request may go the moment the pause ends (Retry-After says when the CRM
  // takes requests again); later ones follow at the halved rate.
  tokens_ = 1;
  last_refill_ms_ = paused_until_ms_;
  last_429_ms_ = now_ms;
  last_recover_ms_ = paused_until_ms_;
}

void RateLimiter::RecoverLocked(int64_t now_ms) {
  if (last_429_ms_ == 0 || rate_ <= 0) return;
  while (now_ms - last_recover_ms_ >= 1000) {
    last_recover_ms_ += 1000;
    rate_ *= 1.25;
    if (configured_rate_ > 0 && rate_ >= configured_rate_) {
      rate_ = configured_rate_;
      last_429_ms_ = 0;
      return;
    }
    if (configured_rate_ <= 0 && rate_ >= 100000) {  // back to unlimited
      rate_ = 0;
      last_429_ms_ = 0;
      return;
    }
  }
}

void RateLimiter::OnAnswered() {
  std::lock_guard<std::mutex> lock(mu_);
  storm_since_ms_ = -1;
}

int64_t RateLimiter::storm_since_ms() const {
  std::lock_guard<std::mutex> lock(mu_);
  return storm_since_ms_;
}

int64_t RateLimiter::paused_until_ms() const {
  std::lock_guard<std::mutex> lock(mu_);
  return paused_until_ms_;
}

double RateLimiter::current_rate() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rate_;
}

int64_t RateLimiter::waits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waits_;
}

int64_t RateLimiter::rate_limited_total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rate_limited_total_;
}

}  // namespace crmsync::engine
