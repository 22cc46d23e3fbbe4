// store/event_intake.h: the EventIntake role of the engine's durable state. Each caller
// depends on the role it uses; Store (store.h) is every role at once.
// Methods throw StoreError on storage failure. Implementations are thread-safe.
#ifndef CRMSYNC_ENGINE_STORE_EVENT_INTAKE_H_
#define CRMSYNC_ENGINE_STORE_EVENT_INTAKE_H_

#include <exception>
#include <functional>
#include <vector>

#include "queue/queue_types.h"

namespace crmsync::engine {

/// Intake's side: accepted events become mirror rows and jobs (queue/accept.h).
class EventIntake {
 public:
  virtual ~EventIntake() = default;

  /// Writes each event's mirror row and job (or absorbs it into a pending job of
  /// the same entity) and records its id; an id seen before writes nothing and
  /// returns the original job. Durable when it returns: concurrent callers share
  /// one commit. On failure throws StoreError and nothing of the call is written.
  virtual std::vector<AcceptResult> Accept(const std::vector<IncomingEvent>& events,
                                           int64_t now_ms) = 0;

  /// Accept() without holding the caller: `done` runs once the write is durable
  /// (or failed: `error` set, nothing written), on a thread of the store's. The
  /// default runs Accept() in the caller's thread. The server's handler threads
  /// can then carry many requests into one commit.
  using AcceptDone =
      std::function<void(std::vector<AcceptResult> results, std::exception_ptr error)>;
  virtual void AcceptAsync(std::vector<IncomingEvent> events, int64_t now_ms, AcceptDone done) {
    std::vector<AcceptResult> results;
    try {
      results = Accept(events, now_ms);
    } catch (...) {
      done({}, std::current_exception());
      return;
    }
    done(std::move(results), nullptr);
  }
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_STORE_EVENT_INTAKE_H_
