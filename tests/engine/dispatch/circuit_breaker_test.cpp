// circuit_breaker_test.cpp: the per-plugin breaker of docs/design.md §4: closed ->
// open at the threshold, nothing admitted while open, one probe when half-open,
// the probe's verdict, backoff of the open time, AbandonProbe. Time is passed in.
#include <doctest/doctest.h>

#include <cstdint>

#include "dispatch/circuit_breaker.h"

namespace crmsync::engine {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;
using State = CircuitBreaker::State;

TEST_SUITE("engine.dispatch") {
  TEST_CASE("circuit breaker: closed admits without limit until the threshold") {
    CircuitBreaker breaker(3, 30000, 300000);
    CHECK(breaker.state(kT0) == State::kClosed);
    CHECK(breaker.Admit(kT0) == -1);
    CHECK_FALSE(breaker.RecordFailure(kT0));
    CHECK_FALSE(breaker.RecordFailure(kT0));
    CHECK(breaker.state(kT0) == State::kClosed);
    CHECK(breaker.Admit(kT0) == -1);
    // A success resets the run of failures.
    breaker.RecordSuccess();
    CHECK_FALSE(breaker.RecordFailure(kT0));
    CHECK_FALSE(breaker.RecordFailure(kT0));
    CHECK(breaker.opened_total() == 0);
    // The third consecutive failure opens it.
    CHECK(breaker.RecordFailure(kT0 + 5));
    CHECK(breaker.state(kT0 + 5) == State::kOpen);
    CHECK(breaker.open_until_ms() == kT0 + 5 + 30000);
    CHECK(breaker.opened_total() == 1);
    CHECK(std::string(CircuitStateName(breaker.state(kT0 + 5))) == "open");
  }

  TEST_CASE("circuit breaker: open admits nothing, half-open exactly one probe") {
    CircuitBreaker breaker(2, 30000, 300000);
    breaker.RecordFailure(kT0);
    REQUIRE(breaker.RecordFailure(kT0));
    for (int64_t t : {kT0, kT0 + 1, kT0 + 29999}) {
      CAPTURE(t - kT0);
      CHECK(breaker.Admit(t) == 0);
      CHECK(breaker.state(t) == State::kOpen);
    }
    // Failures reported while open (jobs already in flight) change nothing.
    CHECK_FALSE(breaker.RecordFailure(kT0 + 100));
    CHECK(breaker.open_until_ms() == kT0 + 30000);
    CHECK(breaker.opened_total() == 1);

    const int64_t probe_at = kT0 + 30000;
    CHECK(breaker.state(probe_at) == State::kHalfOpen);
    CHECK(std::string(CircuitStateName(State::kHalfOpen)) == "half_open");
    CHECK(breaker.Admit(probe_at) == 1);  // the probe
    CHECK(breaker.Admit(probe_at) == 0);  // nobody else
    CHECK(breaker.Admit(probe_at + 5000) == 0);
    CHECK(breaker.state(probe_at) == State::kHalfOpen);
  }

  TEST_CASE("circuit breaker: a successful probe closes the breaker") {
    CircuitBreaker breaker(1, 1000, 8000);
    REQUIRE(breaker.RecordFailure(kT0));
    REQUIRE(breaker.Admit(kT0 + 1000) == 1);
    breaker.RecordSuccess();
    CHECK(breaker.state(kT0 + 1000) == State::kClosed);
    CHECK(breaker.Admit(kT0 + 1000) == -1);
    CHECK(breaker.Admit(kT0 + 1000) == -1);
    // Closed again: a new run of failures is needed, and it opens for the base time.
    REQUIRE(breaker.RecordFailure(kT0 + 2000));
    CHECK(breaker.open_until_ms() == kT0 + 2000 + 1000);
    CHECK(breaker.opened_total() == 2);
  }

  TEST_CASE("circuit breaker: a failed probe reopens for twice as long, up to the max") {
    CircuitBreaker breaker(1, 1000, 5000);
    int64_t now = kT0;
    REQUIRE(breaker.RecordFailure(now));
    CHECK(breaker.open_until_ms() == now + 1000);
    const int64_t expected_open_ms[] = {2000, 4000, 5000, 5000};
    for (int64_t open_ms : expected_open_ms) {
      CAPTURE(open_ms);
      now = breaker.open_until_ms();
      CHECK(breaker.Admit(now - 1) == 0);
      REQUIRE(breaker.Admit(now) == 1);
      CHECK(breaker.RecordFailure(now));  // the probe failed: reopened
      CHECK(breaker.state(now) == State::kOpen);
      CHECK(breaker.open_until_ms() == now + open_ms);
      CHECK(breaker.Admit(now) == 0);
    }
    CHECK(breaker.opened_total() == 5);
    // Success resets the open time to the base for the next outage.
    now = breaker.open_until_ms();
    REQUIRE(breaker.Admit(now) == 1);
    breaker.RecordSuccess();
    REQUIRE(breaker.RecordFailure(now + 10));
    CHECK(breaker.open_until_ms() == now + 10 + 1000);
  }

  TEST_CASE("circuit breaker: AbandonProbe lets another probe through") {
    CircuitBreaker breaker(1, 1000, 5000);
    REQUIRE(breaker.RecordFailure(kT0));
    REQUIRE(breaker.Admit(kT0 + 1000) == 1);
    CHECK(breaker.Admit(kT0 + 1000) == 0);
    breaker.AbandonProbe();  // e.g. no job to lease, or released on shutdown
    CHECK(breaker.state(kT0 + 1000) == State::kHalfOpen);
    CHECK(breaker.Admit(kT0 + 1000) == 1);
    CHECK(breaker.Admit(kT0 + 1000) == 0);
    CHECK(breaker.opened_total() == 1);
  }

}  // TEST_SUITE

}  // namespace
}  // namespace crmsync::engine
