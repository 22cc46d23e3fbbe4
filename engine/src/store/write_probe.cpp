// Store write readiness; see write_probe.h.
#include "store/write_probe.h"

namespace crmsync::engine {

WriteProbe::WriteProbe(StoreHealth* store, Clock* clock, int64_t interval_ms)
    : store_(store), clock_(clock), interval_ms_(interval_ms) {}

bool WriteProbe::Check(std::string* why) {
  std::unique_lock<std::mutex> lock(mu_);
  const int64_t now = clock_->NowMs();
  const WriteOutcome last = store_->LastWrite();
  if (last.count != seen_count_) {
    // A real write finished since the last answer: it is the freshest truth.
    seen_count_ = last.count;
    ok_ = last.ok;
    why_ = last.error;
    answered_ = true;
    answered_at_ms_ = now;
  } else if (!probing_ && (!answered_ || now - answered_at_ms_ >= interval_ms_)) {
    probing_ = true;
    ++probes_;
    lock.unlock();
    std::string reason;
    const bool ok = store_->ProbeWrite(&reason);
    lock.lock();
    probing_ = false;
    ok_ = ok;
    why_ = ok ? "" : reason;
    seen_count_ = store_->LastWrite().count;  // the probe's own group is seen
    answered_ = true;
    answered_at_ms_ = clock_->NowMs();
  }
  if (!ok_ && why != nullptr) *why = why_;
  return ok_;
}

int64_t WriteProbe::probes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return probes_;
}

}  // namespace crmsync::engine
