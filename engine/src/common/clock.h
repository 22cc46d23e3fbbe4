// common/clock.h: the time source every timing decision reads (retry
// schedule, leases, Retry-After, circuit breaker, rate limits).
//
// Production uses SystemClock; tests use ManualClock and move it, so timing is
// tested without sleeping. Thread-safe.
#ifndef CRMSYNC_ENGINE_COMMON_CLOCK_H_
#define CRMSYNC_ENGINE_COMMON_CLOCK_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace crmsync::engine {

class Clock {
 public:
  virtual ~Clock() = default;
  /// Milliseconds since the Unix epoch.
  virtual int64_t NowMs() const = 0;
  /// Registers a callback run whenever the time jumps (ManualClock::Advance), so
  /// waiting components re-check their deadlines at once; returns an id for
  /// RemoveOnAdvance(). SystemClock never calls it.
  virtual int OnAdvance(std::function<void()> callback) {
    (void)callback;
    return -1;
  }
  /// Unregisters a callback; it is not running when this returns.
  virtual void RemoveOnAdvance(int id) { (void)id; }
};

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override;
  /// A process-wide instance, never destroyed (usable during static destruction).
  static SystemClock& Instance();
};

/// A clock that moves only when told.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
  int64_t NowMs() const override { return now_.load(); }
  int OnAdvance(std::function<void()> callback) override;
  void RemoveOnAdvance(int id) override;
  /// Moves time forward by `ms` and wakes every registered waiter.
  void Advance(int64_t ms);

 private:
  std::atomic<int64_t> now_;
  std::mutex mu_;  // guards callbacks_ and is held while they run
  int next_id_ = 0;
  std::vector<std::pair<int, std::function<void()>>> callbacks_;
};

/// ISO 8601 UTC with milliseconds ("2026-11-24T10:15:00.123Z") of a Unix ms time.
std::string FormatIsoMs(int64_t unix_ms);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_COMMON_CLOCK_H_
