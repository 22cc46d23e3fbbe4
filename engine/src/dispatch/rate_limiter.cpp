// The plugin-wide rate limiter; see rate_limiter.h.
#include "dispatch/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace crmsync::engine {

bool IsCrmAnswer(const crmsync::Status& s) {
  return s.code() != StatusCode::kRetryable && s.code() != StatusCode::kInternal;
}

RateAnswer RateAnswerOf(const crmsync::Status& s) {
  RateAnswer answer;
  answer.rate_limited = s.code() == StatusCode::kRateLimited;
  answer.retry_after_ms = s.retry_after_ms();
  return answer;
}

double RateLimiter::CutRateLocked(int64_t now, bool* lifted) const {
  *lifted = false;
  if (cut_rate_ <= 0) return 0;
  double grown = cut_rate_;
  if (now > grow_from_ms_) {
    grown *= std::pow(kGrowthPerSecond, static_cast<double>(now - grow_from_ms_) / 1000.0);
  }
  if (configured_rate_ > 0 ? grown >= configured_rate_ : grown >= kLiftFactor * cut_base_) {
    *lifted = true;
    return 0;
  }
  return grown;
}

int64_t RateLimiter::BudgetLeftLocked(int64_t now) const {
  if (!budget_known_ || now >= budget_reset_ms_) return -1;
  const int64_t sent_since = static_cast<int64_t>(send_seq_ - budget_seq_);
  return std::max<int64_t>(0, budget_remaining_ - sent_since);
}

double RateLimiter::RateLocked(int64_t now, bool* pacing) const {
  bool lifted = false;
  const double cut = CutRateLocked(now, &lifted);
  double rate = cut > 0 ? cut : configured_rate_;
  *pacing = false;
  const int64_t left = BudgetLeftLocked(now);
  if (pacing_ && left > 0) {
    const double pace =
        static_cast<double>(left) / (static_cast<double>(budget_reset_ms_ - now) / 1000.0);
    if (rate <= 0 || pace < rate) {
      rate = pace;
      *pacing = true;
    }
  }
  return rate;
}

void RateLimiter::RatesLocked(int64_t now, double* sent, double* ok, double* answers) const {
  const int64_t elapsed = std::max<int64_t>(0, now - bucket_start_ms_);
  const double ok_now = static_cast<double>(ok_total_.load(std::memory_order_relaxed) - ok_base_);
  // A sliding second: the bucket before, by the share of it still inside the
  // second, plus the current one.
  auto estimate = [&](double before, double current) {
    if (bucket_start_ms_ == 0 || elapsed >= 2000) return 0.0;
    if (elapsed >= 1000) return current * (1.0 - static_cast<double>(elapsed - 1000) / 1000.0);
    return before * (1.0 - static_cast<double>(elapsed) / 1000.0) + current;
  };
  // Counted since stats_start_ms_ when that is less than a second ago: scaled
  // up to a second. During a pause (counting starts at its end) the few
  // answers still coming in are taken as they are.
  const double scale =
      now < stats_start_ms_
          ? 1.0
          : 1000.0 / static_cast<double>(std::clamp<int64_t>(now - stats_start_ms_, 1, 1000));
  *sent = scale * estimate(static_cast<double>(sent_before_), static_cast<double>(sent_now_));
  *ok = scale * estimate(static_cast<double>(ok_before_), ok_now);
  // The evidence: answers counted, not scaled.
  *answers = estimate(static_cast<double>(ok_before_), ok_now) +
             estimate(static_cast<double>(limited_before_), static_cast<double>(limited_now_));
}

void RateLimiter::RollLocked(int64_t now) {
  const int64_t ok_total = ok_total_.load(std::memory_order_relaxed);
  if (bucket_start_ms_ == 0) {
    bucket_start_ms_ = stats_start_ms_ = now;
    ok_base_ = ok_total;
    return;
  }
  const int64_t elapsed = now - bucket_start_ms_;
  if (elapsed < 1000) return;
  if (elapsed < 2000) {
    sent_before_ = sent_now_;
    ok_before_ = ok_total - ok_base_;
    limited_before_ = limited_now_;
    bucket_start_ms_ += 1000;
  } else {
    sent_before_ = ok_before_ = limited_before_ = 0;
    bucket_start_ms_ = now - elapsed % 1000;
  }
  sent_now_ = 0;
  limited_now_ = 0;
  ok_base_ = ok_total;
}

void RateLimiter::RefillLocked(int64_t now, double rate, bool pacing) {
  if (last_refill_ms_ == 0) last_refill_ms_ = now;
  // An evenly spread budget allows no burst; a rate, one second's worth.
  const double capacity = pacing ? 1.0 : std::max(1.0, rate);
  if (rate > 0 && now > last_refill_ms_) {
    tokens_ += static_cast<double>(now - last_refill_ms_) / 1000.0 * rate;
  }
  tokens_ = std::min(capacity, tokens_);
  last_refill_ms_ = std::max(last_refill_ms_, now);
}

void RateLimiter::PauseLocked(int64_t until) {
  if (until <= paused_until_ms_.load()) return;
  paused_until_ms_.store(until);
  if (cut_rate_ > 0) grow_from_ms_ = std::max(grow_from_ms_, until);
  // One request may go the moment the pause ends; what was measured before it
  // says nothing about the second after it.
  tokens_ = 1;
  last_refill_ms_ = until;
  bucket_start_ms_ = stats_start_ms_ = until;
  sent_now_ = sent_before_ = 0;
  ok_base_ = ok_total_.load(std::memory_order_relaxed);
  ok_before_ = 0;
  limited_now_ = limited_before_ = 0;
}

void RateLimiter::CutLocked(int64_t now) {
  double sent = 0;
  double ok = 0;
  double answers = 0;
  RatesLocked(now, &sent, &ok, &answers);
  bool lifted = false;
  double current = CutRateLocked(now, &lifted);
  if (current <= 0) current = configured_rate_;
  double target = 0;
  if (answers >= static_cast<double>(kMinEvidence)) {
    target = kCutFactor * ok;
  } else if (current > 0) {
    target = kCutFactor * current;
  } else {
    return;  // unlimited, and too few answers to tell what the CRM takes
  }
  if (current > 0) target = std::min(target, current);
  target = std::max(kMinRate, target);
  cut_rate_ = target;
  cut_base_ = target / kCutFactor;
  grow_from_ms_ = std::max(now, paused_until_ms_.load());
  tokens_ = std::min(tokens_, 1.0);
}

void RateLimiter::BudgetLocked(int64_t now, const RateTicket& ticket,
                               const RateLimitBudget& budget) {
  if (budget.reset_in_ms <= 0) return;  // refilled as it answered: says nothing
  const uint64_t seq = ticket.seq > 0 ? ticket.seq : send_seq_;
  const bool known = BudgetLeftLocked(now) >= 0;
  if (known && seq < budget_seq_) return;  // an older request's word
  // Within one budget the CRM's count only falls: a rise is a refill.
  if (!known || budget.remaining > budget_remaining_) pacing_ = false;
  budget_known_ = true;
  budget_remaining_ = budget.remaining;
  budget_seq_ = seq;
  budget_reset_ms_ = now + budget.reset_in_ms;
  if (BudgetLeftLocked(now) == 0) {
    const int64_t until = std::min(budget_reset_ms_, now + kMaxBudgetPauseMs);
    PauseLocked(until);
    budget_reset_ms_ = until;  // then requests go, and their answers tell again
  }
}

int64_t RateLimiter::TryAcquire(int64_t now_ms, RateTicket* ticket) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t paused = paused_until_ms_.load();
  if (now_ms < paused) {
    ++waits_;
    return paused - now_ms;
  }
  RollLocked(now_ms);
  bool lifted = false;
  CutRateLocked(now_ms, &lifted);
  if (lifted) cut_rate_ = 0;
  const int64_t left = BudgetLeftLocked(now_ms);
  if (left < 0 && budget_known_) {
    budget_known_ = false;  // reset: the budget has refilled
    pacing_ = false;
  }
  if (left == 0) {
    const int64_t until = std::min(budget_reset_ms_, now_ms + kMaxBudgetPauseMs);
    PauseLocked(until);
    budget_reset_ms_ = until;
    ++waits_;
    return until - now_ms;
  }
  if (left > 0 && !pacing_) {
    double sent = 0;
    double ok = 0;
    double answers = 0;
    RatesLocked(now_ms, &sent, &ok, &answers);
    const double time_left_s = static_cast<double>(budget_reset_ms_ - now_ms) / 1000.0;
    if (static_cast<double>(left) < sent * std::min(1.0, time_left_s)) pacing_ = true;
  }
  bool pacing = false;
  const double rate = RateLocked(now_ms, &pacing);
  RefillLocked(now_ms, rate, pacing);
  if (rate > 0) {
    if (tokens_ < 1.0) {
      ++waits_;
      return std::max<int64_t>(1, static_cast<int64_t>(std::ceil((1.0 - tokens_) / rate * 1000.0)));
    }
    tokens_ -= 1.0;
  }
  ++send_seq_;
  ++sent_now_;
  if (ticket) *ticket = RateTicket{send_seq_, window_};
  return 0;
}

void RateLimiter::OnAnswer(int64_t now_ms, const RateTicket& ticket, const RateAnswer& answer) {
  if (!answer.rate_limited) {
    // The common answer: counted and noted without the lock.
    ok_total_.fetch_add(1, std::memory_order_relaxed);
    if (storm_since_ms_.load(std::memory_order_relaxed) >= 0) storm_since_ms_.store(-1);
    uint64_t seen = ok_window_.load(std::memory_order_relaxed);
    while (seen < ticket.window && !ok_window_.compare_exchange_weak(seen, ticket.window)) {
    }
    if (answer.budget == nullptr) return;
    std::lock_guard<std::mutex> lock(mu_);
    BudgetLocked(now_ms, ticket, *answer.budget);
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  ++rate_limited_total_;
  int64_t no_storm = -1;
  storm_since_ms_.compare_exchange_strong(no_storm, now_ms);
  RollLocked(now_ms);
  ++limited_now_;
  if (answer.budget) BudgetLocked(now_ms, ticket, *answer.budget);
  const int64_t wait = std::max<int64_t>(0, answer.retry_after_ms);
  if (ticket.window != window_) return;  // sent before the current window opened
  if (now_ms >= window_end_ms_) {
    // The first 429 to a request sent since the last window opened: a new
    // window, and the one cut it makes.
    ++window_;
    ++windows_total_;
    window_end_ms_ = now_ms + std::max(wait, kMinWindowMs);
    CutLocked(now_ms);
  } else if (ok_window_.load() < window_) {
    // Sent inside the open window, at the cut rate, and nothing sent inside it
    // got through: the CRM refuses everything; all wait its Retry-After.
    PauseLocked(now_ms + wait);
    window_end_ms_ = std::max(window_end_ms_, paused_until_ms_.load());
  }
}

int64_t RateLimiter::Sendable(int64_t now_ms, int64_t most, int64_t* ready_at_ms) const {
  std::lock_guard<std::mutex> lock(mu_);
  *ready_at_ms = now_ms;
  const int64_t paused = paused_until_ms_.load();
  if (now_ms < paused) {
    *ready_at_ms = paused;
    return 0;
  }
  const int64_t left = BudgetLeftLocked(now_ms);
  if (left == 0) return std::min<int64_t>(most, 1);  // TryAcquire pauses for the reset
  if (left > 0) most = std::min(most, left);
  bool pacing = false;
  const double rate = RateLocked(now_ms, &pacing);
  if (rate <= 0) return most;
  const double capacity = pacing ? 1.0 : std::max(1.0, rate);
  double tokens = tokens_;
  if (last_refill_ms_ > 0 && now_ms > last_refill_ms_) {
    tokens += static_cast<double>(now_ms - last_refill_ms_) / 1000.0 * rate;
  }
  tokens = std::min(capacity, tokens);
  if (tokens >= 1.0) return std::min(most, static_cast<int64_t>(tokens));
  *ready_at_ms =
      now_ms + std::max<int64_t>(1, static_cast<int64_t>(std::ceil((1.0 - tokens) / rate * 1000.0)));
  return 0;
}

double RateLimiter::current_rate(int64_t now_ms) const {
  std::lock_guard<std::mutex> lock(mu_);
  bool pacing = false;
  return RateLocked(now_ms, &pacing);
}

RateLimitState RateLimiter::State(int64_t now_ms) const {
  std::lock_guard<std::mutex> lock(mu_);
  RateLimitState state;
  state.rate = RateLocked(now_ms, &state.pacing);
  state.paused_until_ms = paused_until_ms_.load();
  state.window_until_ms = window_end_ms_ > now_ms ? window_end_ms_ : 0;
  state.windows = windows_total_;
  state.rate_limited = rate_limited_total_;
  const int64_t left = BudgetLeftLocked(now_ms);
  state.budget_known = left >= 0;
  if (state.budget_known) {
    state.budget_remaining = left;
    state.budget_reset_ms = budget_reset_ms_;
  }
  return state;
}

int64_t RateLimiter::waits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waits_;
}

int64_t RateLimiter::rate_limited_total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rate_limited_total_;
}

int64_t RateLimiter::windows_total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return windows_total_;
}

}  // namespace crmsync::engine
