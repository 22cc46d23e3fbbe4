// rate_limiter_test.cpp: the plugin-wide rate: unlimited by default, a token
// bucket at a configured rate, a 429's window (one cut per window, a pause only
// when the CRM refuses even the cut rate), recovery, the CRM's budget, and the
// 2% random 429 scenario played out on simulated time. Time is passed in, as a
// ManualClock would give it; nothing sleeps.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <vector>

#include "dispatch/rate_limiter.h"

namespace crmsync::engine {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

// An answer of each kind.
RateAnswer Ok() { return RateAnswer(); }
RateAnswer TooMany(int64_t retry_after_ms) {
  RateAnswer answer;
  answer.rate_limited = true;
  answer.retry_after_ms = retry_after_ms;
  return answer;
}
RateAnswer WithBudget(const RateLimitBudget& budget, bool rate_limited = false) {
  RateAnswer answer;
  answer.rate_limited = rate_limited;
  answer.budget = &budget;
  return answer;
}

// Takes a ticket at `now`; the request must be allowed to go.
RateTicket Send(RateLimiter& limiter, int64_t now) {
  RateTicket ticket;
  REQUIRE(limiter.TryAcquire(now, &ticket) == 0);
  return ticket;
}

// `count` requests spread evenly over [from, from + span_ms), each answered
// OK at once: what the CRM took over that span.
void Traffic(RateLimiter& limiter, int64_t from, int64_t span_ms, int count) {
  for (int i = 0; i < count; ++i) {
    const int64_t at = from + span_ms * i / count;
    limiter.OnAnswer(at, Send(limiter, at), Ok());
  }
}

// A second of `per_second` requests the CRM took, then at its end a 429 (with
// `retry_after_ms`) to one more: the first window opens. Returns its end time.
int64_t FirstWindow(RateLimiter& limiter, int per_second, int64_t retry_after_ms) {
  Traffic(limiter, kT0, 1000, per_second);
  const int64_t t = kT0 + 1000;
  limiter.OnAnswer(t, Send(limiter, t), TooMany(retry_after_ms));
  return t;
}

TEST_SUITE("engine.dispatch") {
  TEST_CASE("rate limiter: rate 0 is unlimited") {
    RateLimiter limiter(0);
    CHECK(limiter.current_rate(kT0) == 0);
    for (int i = 0; i < 10000; ++i) REQUIRE(limiter.TryAcquire(kT0) == 0);
    CHECK(limiter.waits() == 0);
    CHECK(limiter.paused_until_ms() == 0);
    CHECK(limiter.rate_limited_total() == 0);
    int64_t ready = 0;
    CHECK(limiter.Sendable(kT0, 16, &ready) == 16);
    CHECK(ready == kT0);
  }

  TEST_CASE("rate limiter: a token bucket at the configured rate") {
    RateLimiter limiter(10);  // one token per 100 ms, bucket of 10
    CHECK(limiter.current_rate(kT0) == 10);
    CHECK(limiter.TryAcquire(kT0) == 0);
    CHECK(limiter.TryAcquire(kT0) == 100);                    // empty: the next token in 100 ms
    int64_t ready = 0;
    CHECK(limiter.Sendable(kT0, 16, &ready) == 0);            // nothing to lease before then
    CHECK(ready == kT0 + 100);
    const int64_t wait_at_40 = limiter.TryAcquire(kT0 + 40);  // 0.4 token in the bucket
    CHECK(wait_at_40 >= 60);
    CHECK(wait_at_40 <= 61);
    CHECK(limiter.waits() == 2);
    CHECK(limiter.TryAcquire(kT0 + 110) == 0);
    CHECK(limiter.TryAcquire(kT0 + 110) > 0);
    // An idle bucket fills up to one second's worth, no more.
    const int64_t later = kT0 + 60000;
    CHECK(limiter.Sendable(later, 16, &ready) == 10);
    int burst = 0;
    while (limiter.TryAcquire(later) == 0) ++burst;
    CHECK(burst == 10);
    // Then, over ten seconds of steady asking, ten requests a second go.
    int sent = 0;
    for (int64_t t = later; t < later + 10000; t += 10) {
      if (limiter.TryAcquire(t) == 0) ++sent;
    }
    CHECK(sent >= 98);
    CHECK(sent <= 100);
  }

  TEST_CASE("rate limiter: the 429 scenario: the rate is cut once per window") {
    RateLimiter limiter(0);
    // A second at 1,000 requests a second, all taken by the CRM.
    Traffic(limiter, kT0, 1000, 1000);
    // Forty requests are in flight when the first 429 comes.
    const int64_t t = kT0 + 1000;
    std::vector<RateTicket> in_flight;
    for (int i = 0; i < 40; ++i) in_flight.push_back(Send(limiter, t));
    limiter.OnAnswer(t, in_flight[0], TooMany(1000));
    CHECK(limiter.windows_total() == 1);
    // Cut once: to 80% of what the CRM took over the last second.
    const double cut = limiter.current_rate(t);
    CHECK(cut == doctest::Approx(800).epsilon(0.01));
    // The other requests sent before the window opened come back 429 after it
    // opened: each only waits its own Retry-After.
    for (int i = 1; i < 40; ++i) limiter.OnAnswer(t + 5, in_flight[static_cast<size_t>(i)], TooMany(1000));
    CHECK(limiter.rate_limited_total() == 40);
    CHECK(limiter.windows_total() == 1);
    CHECK(limiter.current_rate(t + 5) < cut * 1.01);  // only grown, never cut again
    CHECK(limiter.paused_until_ms() == 0);            // a 429 alone stops nothing
    // Requests sent inside the window: the CRM takes one, then refuses others
    // in the same window: still the one cut, and no pause.
    const int64_t inside = t + 100;
    limiter.OnAnswer(inside, Send(limiter, inside), Ok());
    for (int i = 0; i < 20; ++i) limiter.OnAnswer(inside, Send(limiter, inside), TooMany(1000));
    CHECK(limiter.windows_total() == 1);
    CHECK(limiter.paused_until_ms() == 0);
    CHECK(limiter.rate_limited_total() == 60);
  }

  TEST_CASE("rate limiter: a window lasts max(Retry-After, 1 s), a later 429 opens the next") {
    RateLimiter limiter(0);
    Traffic(limiter, kT0, 1000, 500);
    int64_t t = kT0 + 1000;
    const RateTicket old_one = Send(limiter, t);  // sent before the first window
    limiter.OnAnswer(t, Send(limiter, t), TooMany(0));  // Retry-After 0: still a 1 s window
    CHECK(limiter.windows_total() == 1);
    CHECK(limiter.State(t).window_until_ms == t + 1000);
    const RateTicket inside = Send(limiter, t + 10);
    limiter.OnAnswer(t + 10, inside, Ok());
    t += 1000;  // the window is over
    CHECK(limiter.State(t).window_until_ms == 0);
    // A 429 to a request sent before that window opened says nothing new.
    limiter.OnAnswer(t, old_one, TooMany(3000));
    CHECK(limiter.windows_total() == 1);
    // A 429 to a request sent in it opens the next window, 3 s long.
    const RateTicket sent_in_window = Send(limiter, t);
    limiter.OnAnswer(t, sent_in_window, TooMany(3000));
    CHECK(limiter.windows_total() == 2);
    CHECK(limiter.State(t).window_until_ms == t + 3000);
    CHECK(limiter.paused_until_ms() == 0);
  }

  TEST_CASE("rate limiter: when the CRM refuses even the cut rate, everything waits for Retry-After") {
    RateLimiter limiter(0);
    const int64_t t = FirstWindow(limiter, 500, 2000);
    REQUIRE(limiter.windows_total() == 1);
    REQUIRE(limiter.paused_until_ms() == 0);
    // The first answer to a request sent inside the window is a 429 too.
    const RateTicket first = Send(limiter, t + 10);
    const RateTicket second = Send(limiter, t + 10);
    limiter.OnAnswer(t + 20, first, TooMany(2000));
    CHECK(limiter.paused_until_ms() == t + 2020);
    CHECK(limiter.TryAcquire(t + 20) == 2000);
    CHECK(limiter.TryAcquire(t + 2019) == 1);
    CHECK(limiter.State(t + 20).window_until_ms == t + 2020);
    int64_t ready = 0;
    CHECK(limiter.Sendable(t + 20, 16, &ready) == 0);
    CHECK(ready == t + 2020);
    CHECK(limiter.windows_total() == 1);  // a pause, not a second cut
    // A shorter Retry-After never shortens the pause.
    limiter.OnAnswer(t + 30, second, TooMany(0));
    CHECK(limiter.paused_until_ms() == t + 2020);
    // When it ends, one request goes at once, and the rate grows from the cut
    // again from that moment, not from when it was cut.
    const double cut = limiter.current_rate(t + 10);
    CHECK(limiter.current_rate(t + 2020) == doctest::Approx(cut));
    CHECK(limiter.TryAcquire(t + 2020) == 0);
  }

  TEST_CASE("rate limiter: an answer other than 429 in the window means no pause") {
    RateLimiter limiter(0);
    const int64_t t = FirstWindow(limiter, 500, 2000);
    const RateTicket a = Send(limiter, t + 5);  // at the cut rate, 400 a second
    const RateTicket b = Send(limiter, t + 10);
    limiter.OnAnswer(t + 11, a, Ok());
    limiter.OnAnswer(t + 12, b, TooMany(2000));
    CHECK(limiter.paused_until_ms() == 0);
    CHECK(limiter.windows_total() == 1);
  }

  TEST_CASE("rate limiter: the rate recovers quickly once 429s stop") {
    SUBCASE("back to the configured rate within a third of a second") {
      RateLimiter limiter(1000);
      const int64_t t = FirstWindow(limiter, 1000, 1000);
      CHECK(limiter.current_rate(t) == doctest::Approx(800).epsilon(0.01));
      CHECK(limiter.current_rate(t + 100) > 850);
      CHECK(limiter.current_rate(t + 100) < 1000);
      CHECK(limiter.current_rate(t + 330) == 1000);
    }
    SUBCASE("unlimited again 1.3 s after the cut") {
      RateLimiter limiter(0);
      const int64_t t = FirstWindow(limiter, 1000, 1000);
      CHECK(limiter.current_rate(t) == doctest::Approx(800).epsilon(0.01));
      CHECK(limiter.current_rate(t + 1000) == doctest::Approx(1600).epsilon(0.01));
      CHECK(limiter.current_rate(t + 1300) > 0);
      CHECK(limiter.current_rate(t + 1330) == 0);
      for (int i = 0; i < 10000; ++i) REQUIRE(limiter.TryAcquire(t + 1330) == 0);
    }
    SUBCASE("from a deep cut, a doubling a second") {
      RateLimiter limiter(1000);
      const int64_t t = FirstWindow(limiter, 10, 1000);
      CHECK(limiter.current_rate(t) == doctest::Approx(8));
      CHECK(limiter.current_rate(t + 3000) == doctest::Approx(64));
      CHECK(limiter.current_rate(t + 7000) == 1000);  // 8 * 2^7 > 1000
    }
  }

  TEST_CASE("rate limiter: with too few answers, unlimited stays unlimited and a rate is cut by itself") {
    RateLimiter unlimited(0);
    unlimited.OnAnswer(kT0, Send(unlimited, kT0), TooMany(1000));
    CHECK(unlimited.windows_total() == 1);
    CHECK(unlimited.current_rate(kT0) == 0);
    RateLimiter limited(50);
    limited.OnAnswer(kT0, Send(limited, kT0), TooMany(1000));
    CHECK(limited.current_rate(kT0) == doctest::Approx(40));
  }

  TEST_CASE("rate limiter: a storm is a run of 429s, any other answer ends it") {
    RateLimiter limiter(0);
    CHECK(limiter.storm_since_ms() == -1);
    const RateTicket a = Send(limiter, kT0);
    const RateTicket b = Send(limiter, kT0);
    const RateTicket c = Send(limiter, kT0);
    limiter.OnAnswer(kT0, a, TooMany(60000));
    limiter.OnAnswer(kT0 + 5, b, TooMany(60000));
    CHECK(limiter.storm_since_ms() == kT0);
    limiter.OnAnswer(kT0 + 9, c, Ok());
    CHECK(limiter.storm_since_ms() == -1);
    limiter.OnAnswer(kT0 + 70000, Send(limiter, kT0 + 70000), TooMany(1000));
    CHECK(limiter.storm_since_ms() == kT0 + 70000);
  }

  TEST_CASE("rate limiter: a nearly spent budget is spread over the time left") {
    RateLimiter limiter(0);
    Traffic(limiter, kT0, 1000, 100);  // 100 requests a second
    const int64_t t = kT0 + 1000;
    // The last answer: 50 left for the next 10 s: at 100 a second they would
    // last half a second, so they are spread: one every 200 ms, no burst.
    const RateLimitBudget budget{50, 10000};
    limiter.OnAnswer(t, Send(limiter, t), WithBudget(budget));
    CHECK(limiter.TryAcquire(t) == 0);  // pacing starts with the next request
    RateLimitState state = limiter.State(t);
    CHECK(state.budget_known);
    CHECK(state.budget_remaining == 49);
    CHECK(state.budget_reset_ms == t + 10000);
    CHECK(state.pacing);
    CHECK(limiter.current_rate(t) == doctest::Approx(4.9));
    const int64_t wait = limiter.TryAcquire(t);
    CHECK(wait >= 200);
    CHECK(wait <= 205);
    CHECK(limiter.paused_until_ms() == 0);
    // Over the ten seconds no more go than the budget had.
    int sent = 1;
    for (int64_t now = t; now < t + 10000; now += 10) {
      if (limiter.TryAcquire(now) == 0) ++sent;
    }
    CHECK(sent <= 50);
    CHECK(sent >= 45);
    // The budget resets: unlimited again.
    CHECK(limiter.TryAcquire(t + 10000) == 0);
    CHECK(limiter.current_rate(t + 10000) == 0);
    CHECK_FALSE(limiter.State(t + 10000).budget_known);
  }

  TEST_CASE("rate limiter: plenty of budget slows nothing, a refill ends the spreading") {
    RateLimiter limiter(0);
    Traffic(limiter, kT0, 1000, 100);
    int64_t t = kT0 + 1000;
    const RateLimitBudget plenty{5000, 3600000};
    limiter.OnAnswer(t, Send(limiter, t), WithBudget(plenty));
    for (int i = 0; i < 200; ++i) REQUIRE(limiter.TryAcquire(t) == 0);
    CHECK_FALSE(limiter.State(t).pacing);
    CHECK(limiter.State(t).budget_remaining == 4800);
    const RateTicket older = Send(limiter, t);
    const RateTicket low_one = Send(limiter, t);
    const RateTicket newer = Send(limiter, t);
    // Nearly spent: spread.
    const RateLimitBudget low{60, 3600000};
    limiter.OnAnswer(t, low_one, WithBudget(low));
    CHECK(limiter.TryAcquire(t) == 0);
    CHECK(limiter.State(t).pacing);
    CHECK(limiter.TryAcquire(t) > 0);
    // The budget refills (the CRM's count rose): no more spreading.
    const RateLimitBudget refilled{1000, 3600000};
    limiter.OnAnswer(t + 100, newer, WithBudget(refilled));
    CHECK_FALSE(limiter.State(t + 100).pacing);
    CHECK(limiter.State(t + 100).budget_remaining == 999);  // less the one sent since
    // An answer to a request sent before that one does not count.
    limiter.OnAnswer(t + 100, older, WithBudget(RateLimitBudget{3, 3600000}));
    CHECK(limiter.State(t + 100).budget_remaining == 999);
    CHECK(limiter.TryAcquire(t + 100) == 0);
  }

  TEST_CASE("rate limiter: a spent budget stops everything until its reset, a minute at most") {
    SUBCASE("until the reset") {
      RateLimiter limiter(0);
      const RateLimitBudget spent{0, 5000};
      limiter.OnAnswer(kT0, Send(limiter, kT0), WithBudget(spent));
      CHECK(limiter.paused_until_ms() == kT0 + 5000);
      CHECK(limiter.TryAcquire(kT0 + 10) == 4990);
      CHECK(limiter.TryAcquire(kT0 + 5000) == 0);
      CHECK(limiter.storm_since_ms() == -1);  // a spent budget is no storm
    }
    SUBCASE("a minute at most, then requests ask again") {
      RateLimiter limiter(0);
      const RateLimitBudget spent{0, 3600000};
      limiter.OnAnswer(kT0, Send(limiter, kT0), WithBudget(spent));
      CHECK(limiter.paused_until_ms() == kT0 + RateLimiter::kMaxBudgetPauseMs);
      CHECK(limiter.TryAcquire(kT0 + RateLimiter::kMaxBudgetPauseMs) == 0);
      CHECK_FALSE(limiter.State(kT0 + RateLimiter::kMaxBudgetPauseMs).budget_known);
    }
    SUBCASE("requests sent since the answer count against it") {
      RateLimiter limiter(0);
      const RateTicket first = Send(limiter, kT0);
      Send(limiter, kT0);
      Send(limiter, kT0);
      limiter.OnAnswer(kT0, first, WithBudget(RateLimitBudget{2, 5000}));
      CHECK(limiter.paused_until_ms() == kT0 + 5000);
    }
    SUBCASE("spent by the requests sent since, without an answer saying so") {
      RateLimiter limiter(0);
      // Plenty for the pace so far (nothing was sent for a second), so no
      // spreading: three go at once, then the fourth waits for the reset.
      limiter.OnAnswer(kT0, Send(limiter, kT0), Ok());
      const int64_t t = kT0 + 5000;
      limiter.OnAnswer(t, Send(limiter, t), WithBudget(RateLimitBudget{3, 8000}));
      for (int i = 0; i < 3; ++i) REQUIRE(limiter.TryAcquire(t) == 0);
      int64_t ready = 0;
      CHECK(limiter.Sendable(t, 16, &ready) == 1);  // one is leased, to find the budget spent
      CHECK(limiter.TryAcquire(t) == 8000);
      CHECK(limiter.paused_until_ms() == t + 8000);
      CHECK(limiter.Sendable(t, 16, &ready) == 0);
      CHECK(ready == t + 8000);
      CHECK(limiter.TryAcquire(t + 8000) == 0);  // reset: the budget is unknown until told
    }
    SUBCASE("a 429 carrying the budget: the budget's reset holds everything") {
      RateLimiter limiter(0);
      const RateLimitBudget spent{0, 8000};
      limiter.OnAnswer(kT0, Send(limiter, kT0), WithBudget(spent, true));
      CHECK(limiter.paused_until_ms() == kT0 + 8000);
      CHECK(limiter.rate_limited_total() == 1);
    }
    SUBCASE("a reset already passed says nothing") {
      RateLimiter limiter(0);
      limiter.OnAnswer(kT0, Send(limiter, kT0), WithBudget(RateLimitBudget{0, 0}));
      CHECK(limiter.paused_until_ms() == 0);
      CHECK_FALSE(limiter.State(kT0).budget_known);
    }
  }

  // The benchmark's case on simulated time: 3,000 requests a second wanted, a
  // CRM answering after 1 ms that refuses 2% of them (every 50th) with
  // Retry-After: 1. Refused requests are sent again later (demand never runs
  // out). Delivered must stay far above half of what goes without 429s, and
  // the rate is cut once per window at most.
  TEST_CASE("rate limiter: 2% random 429s with Retry-After 1 do not collapse delivery") {
    RateLimiter limiter(0);
    constexpr int64_t kSeconds = 30;
    constexpr int kPerMs = 3;
    std::deque<std::pair<int64_t, RateTicket>> in_flight;  // (answer time, ticket)
    int64_t answered = 0;
    int64_t delivered = 0;
    for (int64_t t = kT0; t < kT0 + kSeconds * 1000; ++t) {
      while (!in_flight.empty() && in_flight.front().first <= t) {
        const RateTicket ticket = in_flight.front().second;
        in_flight.pop_front();
        if (++answered % 50 == 0) {
          limiter.OnAnswer(t, ticket, TooMany(1000));
        } else {
          limiter.OnAnswer(t, ticket, Ok());
          ++delivered;
        }
      }
      for (int i = 0; i < kPerMs; ++i) {
        RateTicket ticket;
        if (limiter.TryAcquire(t, &ticket) != 0) break;
        in_flight.emplace_back(t + 1, ticket);
      }
    }
    const int64_t without_429s = kSeconds * 1000 * kPerMs;
    MESSAGE("delivered " << delivered << " of " << without_429s << " ("
                         << 100 * delivered / without_429s << "%), "
                         << limiter.rate_limited_total() << " 429s, "
                         << limiter.windows_total() << " windows");
    CHECK(delivered * 2 >= without_429s);
    CHECK(delivered * 100 >= without_429s * 80);
    CHECK(limiter.windows_total() <= kSeconds);
    CHECK(limiter.rate_limited_total() > 10 * limiter.windows_total());
  }

  // A CRM that takes 1,000 a second and answers 429 (Retry-After: 1) to the
  // rest, without saying so in budget headers, with the engine wanting 3,000:
  // the cuts keep the rate near what the CRM takes (growing back probes for
  // more), so nearly all it takes is delivered, and at most a third of the
  // requests are refused.
  TEST_CASE("rate limiter: a CRM's own limit, unannounced, is delivered at its pace") {
    RateLimiter limiter(0);
    constexpr int64_t kSeconds = 30;
    double crm_tokens = 1000;
    int64_t delivered = 0;
    int64_t refused = 0;
    int64_t last = kT0;
    for (int64_t t = kT0; t < kT0 + kSeconds * 1000; ++t) {
      crm_tokens = std::min(1000.0, crm_tokens + static_cast<double>(t - last));
      last = t;
      for (int i = 0; i < 3; ++i) {
        RateTicket ticket;
        if (limiter.TryAcquire(t, &ticket) != 0) break;
        if (crm_tokens >= 1) {
          crm_tokens -= 1;
          limiter.OnAnswer(t, ticket, Ok());
          ++delivered;
        } else {
          limiter.OnAnswer(t, ticket, TooMany(1000));
          ++refused;
        }
      }
    }
    MESSAGE("delivered " << delivered << ", refused " << refused << ", windows "
                         << limiter.windows_total());
    CHECK(delivered >= kSeconds * 1000 * 9 / 10);
    CHECK(refused * 2 <= delivered);
  }
}  // TEST_SUITE

  TEST_CASE("rate limiter: a plugin call's status is an answer unless it may be a transport failure") {
    CHECK(IsCrmAnswer(Status::Ok()));
    CHECK(IsCrmAnswer(Status::NotFound("gone")));
    CHECK(IsCrmAnswer(Status::Permanent("400")));
    CHECK_FALSE(IsCrmAnswer(Status::Retryable("connection refused")));
    CHECK_FALSE(IsCrmAnswer(Status(StatusCode::kInternal, "plugin threw")));
    const Status limited(StatusCode::kRateLimited, "429", 2000);
    REQUIRE(IsCrmAnswer(limited));
    RateAnswer answer = RateAnswerOf(limited);
    CHECK(answer.rate_limited);
    CHECK(answer.retry_after_ms == 2000);
    CHECK(answer.budget == nullptr);
    CHECK_FALSE(RateAnswerOf(Status::Ok()).rate_limited);
  }
}  // namespace
}  // namespace crmsync::engine
