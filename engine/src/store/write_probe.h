// store/write_probe.h: whether a store can write now, cheaply enough to ask
// on every /readyz.
//
// The answer is the outcome of the store's latest real write when one
// finished since the last answer (the SQLite group committer reports each
// group); otherwise, at most once per interval, a probe write
// (StoreHealth::ProbeWrite). So a full disk turns /readyz to 503 with the
// first refused write, and an idle store is still tried every few seconds.
// Thread-safe: concurrent callers share one probe in flight and get the
// previous answer meanwhile.
#ifndef CRMSYNC_ENGINE_STORE_WRITE_PROBE_H_
#define CRMSYNC_ENGINE_STORE_WRITE_PROBE_H_

#include <cstdint>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "store/store_health.h"

namespace crmsync::engine {

class WriteProbe {
 public:
  static constexpr int64_t kDefaultIntervalMs = 5000;

  /// `store` and `clock` (not owned) outlive the probe.
  WriteProbe(StoreHealth* store, Clock* clock, int64_t interval_ms = kDefaultIntervalMs);

  /// True when the store's latest write (real or probe) was made durable; false
  /// with `*why` (the store's reason, which may name its path) otherwise.
  bool Check(std::string* why);
  /// Probe writes made so far (tests, to see the interval kept).
  int64_t probes() const;

 private:
  StoreHealth* store_;
  Clock* clock_;
  const int64_t interval_ms_;
  mutable std::mutex mu_;
  bool answered_ = false;   // a probe or a real write has answered once
  bool probing_ = false;    // a caller is running ProbeWrite()
  bool ok_ = true;
  std::string why_;
  uint64_t seen_count_ = 0;  // LastWrite().count when last looked at
  int64_t answered_at_ms_ = 0;
  int64_t probes_ = 0;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_STORE_WRITE_PROBE_H_
