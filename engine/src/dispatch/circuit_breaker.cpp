// The circuit breaker; see circuit_breaker.h.
#include "dispatch/circuit_breaker.h"

#include <algorithm>

namespace crmsync::engine {

const char* CircuitStateName(CircuitBreaker::State state) noexcept {
  switch (state) {
    case CircuitBreaker::State::kClosed: return "closed";
    case CircuitBreaker::State::kOpen: return "open";
    case CircuitBreaker::State::kHalfOpen: return "half_open";
  }
  return "closed";
}

int CircuitBreaker::Admit(int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ == State::kClosed) return -1;
  if (state_ == State::kOpen && now_ms >= open_until_ms_) {
    state_ = State::kHalfOpen;
    probe_out_ = false;
  }
  if (state_ == State::kHalfOpen && !probe_out_) {
    probe_out_ = true;
    return 1;
  }
  return 0;
}

void CircuitBreaker::RecordSuccess() {
  std::lock_guard<std::mutex> lock(mu_);
  consecutive_failures_ = 0;
  first_failure_ms_ = -1;
  outage_since_ms_ = -1;
  state_ = State::kClosed;
  probe_out_ = false;
  current_open_ms_ = 0;
}

bool CircuitBreaker::RecordFailure(int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ == State::kHalfOpen) {
    current_open_ms_ = std::min(max_open_ms_, std::max(base_open_ms_, current_open_ms_ * 2));
    state_ = State::kOpen;
    open_until_ms_ = now_ms + current_open_ms_;
    probe_out_ = false;
    ++opened_total_;
    return true;
  }
  if (state_ == State::kOpen) return false;
  if (consecutive_failures_++ == 0) first_failure_ms_ = now_ms;
  if (consecutive_failures_ >= threshold_) {
    state_ = State::kOpen;
    outage_since_ms_ = first_failure_ms_;
    current_open_ms_ = base_open_ms_;
    open_until_ms_ = now_ms + current_open_ms_;
    ++opened_total_;
    return true;
  }
  return false;
}

void CircuitBreaker::AbandonProbe() {
  std::lock_guard<std::mutex> lock(mu_);
  probe_out_ = false;
}

CircuitBreaker::State CircuitBreaker::state(int64_t now_ms) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ == State::kOpen && now_ms >= open_until_ms_) return State::kHalfOpen;
  return state_;
}

int64_t CircuitBreaker::open_until_ms() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_until_ms_;
}

int64_t CircuitBreaker::outage_since_ms() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_ == State::kClosed ? -1 : outage_since_ms_;
}

int64_t CircuitBreaker::opened_total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return opened_total_;
}

}  // namespace crmsync::engine
