// rate_limiter_test.cpp: the plugin-wide rate: unlimited by default, a token
// bucket at a configured rate, and a 429's pause, halving and recovery.
// Time is passed in.
#include <doctest/doctest.h>

#include <cstdint>

#include "dispatch/rate_limiter.h"

namespace crmsync::engine {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

TEST_SUITE("engine.dispatch") {
  TEST_CASE("rate limiter: rate 0 is unlimited") {
    RateLimiter limiter(0);
    CHECK(limiter.current_rate() == 0);
    for (int i = 0; i < 10000; ++i) REQUIRE(limiter.TryAcquire(kT0) == 0);
    CHECK(limiter.waits() == 0);
    CHECK(limiter.paused_until_ms() == 0);
    CHECK(limiter.rate_limited_total() == 0);
  }

  TEST_CASE("rate limiter: a token bucket at the configured rate") {
    RateLimiter limiter(10);  // one token per 100 ms, bucket of 10
    CHECK(limiter.current_rate() == 10);
    CHECK(limiter.TryAcquire(kT0) == 0);
    CHECK(limiter.TryAcquire(kT0) == 100);                    // empty: the next token in 100 ms
    const int64_t wait_at_40 = limiter.TryAcquire(kT0 + 40);  // 0.4 token in the bucket
    CHECK(wait_at_40 >= 60);
    CHECK(wait_at_40 <= 61);
    CHECK(limiter.waits() == 2);
    CHECK(limiter.TryAcquire(kT0 + 110) == 0);
    CHECK(limiter.TryAcquire(kT0 + 110) > 0);
    // An idle bucket fills up to one second's worth, no more.
    const int64_t later = kT0 + 60000;
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

  TEST_CASE("rate limiter: a 429 pauses everything until Retry-After and halves the rate") {
    RateLimiter limiter(8);
    REQUIRE(limiter.TryAcquire(kT0) == 0);
    limiter.OnRateLimited(kT0, 2000);
    CHECK(limiter.rate_limited_total() == 1);
    CHECK(limiter.paused_until_ms() == kT0 + 2000);
    CHECK(limiter.current_rate() == 4);
    CHECK(limiter.TryAcquire(kT0) == 2000);
    CHECK(limiter.TryAcquire(kT0 + 1999) == 1);
    // When the pause ends one request may go at once; then the halved rate holds.
    CHECK(limiter.TryAcquire(kT0 + 2000) == 0);
    CHECK(limiter.TryAcquire(kT0 + 2000) == 250);
    CHECK(limiter.TryAcquire(kT0 + 2250) == 0);
    // A later, shorter 429 never shortens a pause already running.
    limiter.OnRateLimited(kT0 + 2250, 5000);
    limiter.OnRateLimited(kT0 + 2300, 0);
    CHECK(limiter.paused_until_ms() == kT0 + 7250);
    CHECK(limiter.rate_limited_total() == 3);
    CHECK(limiter.current_rate() == 1);  // 4 -> 2 -> 1, never below 1
  }

  TEST_CASE(
      "rate limiter: the rate recovers by a quarter per quiet second up to the configured rate") {
    RateLimiter limiter(8);
    REQUIRE(limiter.TryAcquire(kT0) == 0);
    limiter.OnRateLimited(kT0, 1000);
    REQUIRE(limiter.current_rate() == 4);
    const int64_t resume = kT0 + 1000;
    REQUIRE(limiter.TryAcquire(resume) == 0);
    CHECK(limiter.current_rate() == 4);
    limiter.TryAcquire(resume + 1000);
    CHECK(limiter.current_rate() == doctest::Approx(5.0));
    limiter.TryAcquire(resume + 2000);
    CHECK(limiter.current_rate() == doctest::Approx(6.25));
    limiter.TryAcquire(resume + 3000);
    CHECK(limiter.current_rate() == doctest::Approx(7.8125));
    limiter.TryAcquire(resume + 4000);
    CHECK(limiter.current_rate() == 8);  // capped at the configured rate
    limiter.TryAcquire(resume + 60000);
    CHECK(limiter.current_rate() == 8);
  }

  TEST_CASE(
      "rate limiter: unlimited slows to half the observed rate on a 429 and returns to unlimited") {
    RateLimiter limiter(0);
    for (int i = 0; i < 40; ++i) REQUIRE(limiter.TryAcquire(kT0 + i * 10) == 0);
    limiter.OnRateLimited(kT0 + 400, 1000);
    CHECK(limiter.current_rate() == 20);  // 40 requests in the last second, halved
    CHECK(limiter.TryAcquire(kT0 + 1000) == 400);
    CHECK(limiter.TryAcquire(kT0 + 1400) == 0);
    CHECK(limiter.TryAcquire(kT0 + 1400) == 50);
    // Quiet seconds raise it until it is unlimited again.
    int64_t t = kT0 + 1400;
    for (int i = 0; i < 60 && limiter.current_rate() != 0; ++i) {
      t += 1000;
      limiter.TryAcquire(t);
    }
    CHECK(limiter.current_rate() == 0);
    for (int i = 0; i < 1000; ++i) REQUIRE(limiter.TryAcquire(t) == 0);
  }

}  // TEST_SUITE

}  // namespace
}  // namespace crmsync::engine
