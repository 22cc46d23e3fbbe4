// Clocks; see clock.h.
#include "common/clock.h"

#include <chrono>
#include <string>

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Timestamp.h>

namespace crmsync::engine {

int64_t SystemClock::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

SystemClock& SystemClock::Instance() {
  // Never destroyed: threads that outlive main (the log's repeat filter, torn
  // down with Poco's loggers at exit) may still read the time.
  static SystemClock* clock = new SystemClock();
  return *clock;
}

int ManualClock::OnAdvance(std::function<void()> callback) {
  std::lock_guard<std::mutex> lock(mu_);
  callbacks_.emplace_back(next_id_, std::move(callback));
  return next_id_++;
}

void ManualClock::RemoveOnAdvance(int id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = callbacks_.begin(); it != callbacks_.end(); ++it) {
    if (it->first == id) {
      callbacks_.erase(it);
      return;
    }
  }
}

void ManualClock::Advance(int64_t ms) {
  now_.fetch_add(ms);
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, cb] : callbacks_) cb();
}

std::string FormatIsoMs(int64_t unix_ms) {
  Poco::Timestamp ts(static_cast<Poco::Timestamp::TimeVal>(unix_ms) * 1000);
  return Poco::DateTimeFormatter::format(ts, "%Y-%m-%dT%H:%M:%S.%iZ");
}

}  // namespace crmsync::engine
