// retry_policy_test.cpp: the retry schedule of docs/design.md §4 as arithmetic:
// 1, 2, 4, 8, 16 s from a 1000 ms base, 5 retries (6 tries), jitter bounds, cap.
#include <doctest/doctest.h>

#include <cstdint>

#include "dispatch/retry_policy.h"

namespace crmsync::engine {
namespace {

constexpr int64_t kOneDayMs = 24LL * 3600 * 1000;

TEST_SUITE("engine.dispatch") {
  TEST_CASE("retry policy: backoff doubles from the base, 1 2 4 8 16 s") {
    RetryPolicy policy(1000, 5, false);
    CHECK(policy.BaseDelayMs(1) == 1000);
    CHECK(policy.BaseDelayMs(2) == 2000);
    CHECK(policy.BaseDelayMs(3) == 4000);
    CHECK(policy.BaseDelayMs(4) == 8000);
    CHECK(policy.BaseDelayMs(5) == 16000);
    CHECK(policy.BaseDelayMs(6) == 32000);
    // Without jitter DelayMs is the base delay, whatever the random number.
    for (int n = 1; n <= 5; ++n) {
      CAPTURE(n);
      CHECK(policy.DelayMs(n, 0.0) == policy.BaseDelayMs(n));
      CHECK(policy.DelayMs(n, 0.73) == policy.BaseDelayMs(n));
    }
    // A count below 1 is read as the first failure.
    CHECK(policy.BaseDelayMs(0) == 1000);
    CHECK(policy.BaseDelayMs(-3) == 1000);
    // Another base scales the whole schedule.
    RetryPolicy slow(250, 5, false);
    CHECK(slow.BaseDelayMs(1) == 250);
    CHECK(slow.BaseDelayMs(5) == 4000);
  }

  TEST_CASE("retry policy: 5 retries mean 6 tries, then dead letter") {
    RetryPolicy policy(1000, 5, false);
    CHECK(policy.max_retries() == 5);
    for (int failed = 1; failed <= 5; ++failed) {
      CAPTURE(failed);
      CHECK(policy.MayRetry(failed));
    }
    CHECK_FALSE(policy.MayRetry(6));
    CHECK_FALSE(policy.MayRetry(7));

    RetryPolicy none(1000, 0, false);
    CHECK_FALSE(none.MayRetry(1));
    RetryPolicy one(1000, 1, false);
    CHECK(one.MayRetry(1));
    CHECK_FALSE(one.MayRetry(2));
  }

  TEST_CASE("retry policy: jitter stays within half and full of the delay") {
    RetryPolicy policy(1000, 5, true);
    CHECK(policy.jitter());
    for (int n = 1; n <= 5; ++n) {
      CAPTURE(n);
      const int64_t full = policy.BaseDelayMs(n);
      CHECK(policy.DelayMs(n, 0.0) == full / 2);
      CHECK(policy.DelayMs(n, 0.5) == full / 2 + full / 4);
      CHECK(policy.DelayMs(n, 0.999999) <= full);
      CHECK(policy.DelayMs(n, 0.999999) >= full - 1);
      for (double unit = 0.0; unit < 1.0; unit += 0.0625) {
        const int64_t delay = policy.DelayMs(n, unit);
        CHECK(delay >= full / 2);
        CHECK(delay <= full);
      }
    }
    // Out-of-range random numbers are clamped, never leave the bounds.
    CHECK(policy.DelayMs(3, -5.0) == 2000);
    CHECK(policy.DelayMs(3, 7.0) == 4000);
    // An odd delay: [floor(half), full].
    RetryPolicy odd(3, 5, true);
    CHECK(odd.DelayMs(1, 0.0) == 1);
    CHECK(odd.DelayMs(1, 1.0) == 3);
  }

  TEST_CASE("retry policy: delays are capped at one day and never overflow") {
    RetryPolicy policy(1000, 100, false);
    CHECK(policy.BaseDelayMs(17) == 65536000);
    CHECK(policy.BaseDelayMs(18) == kOneDayMs);  // 131072 s > one day
    CHECK(policy.BaseDelayMs(64) == kOneDayMs);
    CHECK(policy.BaseDelayMs(100000) == kOneDayMs);
    RetryPolicy jittered(1000, 100, true);
    CHECK(jittered.DelayMs(1000, 1.0) == kOneDayMs);
    CHECK(jittered.DelayMs(1000, 0.0) == kOneDayMs / 2);
    // A base beyond the cap is capped too.
    RetryPolicy huge(2 * kOneDayMs, 5, false);
    CHECK(huge.BaseDelayMs(1) == kOneDayMs);
  }

}  // TEST_SUITE

}  // namespace
}  // namespace crmsync::engine
