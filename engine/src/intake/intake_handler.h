// intake/intake_handler.h: POST /api/v1/events (docs/design.md §3, §10).
//
// Bearer token, size limit (the server's body limit: 413), validation (400
// with every bad field's path; 422 for an unknown type), then one durable write
// of the mirror rows and jobs (Store::Accept: group commit) before 202. A
// repeat of an accepted eventId answers 200 with the original job and writes
// nothing. An event that only echoes the state the CRM last set (docs/design.md §5,
// no sync loops) is recorded but makes no job: its entry keeps the contract's
// shape with "jobId": 0 and one extra field, "suppressed": "echo" (also on a
// repeat of it). While shutting down: 503. Handlers run on server threads;
// thread-safe.
#ifndef CRMSYNC_ENGINE_INTAKE_INTAKE_HANDLER_H_
#define CRMSYNC_ENGINE_INTAKE_INTAKE_HANDLER_H_

#include <atomic>
#include <functional>
#include <string>

#include "common/clock.h"
#include "http/router.h"
#include "metrics/metrics.h"
#include "store/event_intake.h"

namespace crmsync::engine {

struct IntakeContext {
  EventIntake* store = nullptr;
  Clock* clock = nullptr;
  MetricsRegistry* metrics = nullptr;
  std::string token;                     ///< intake.token; empty closes the API.
  const std::atomic<bool>* shutting_down = nullptr;
  std::function<void()> on_accepted;     ///< Wakes the dispatcher.
};

void AddIntakeRoutes(Router& router, IntakeContext context);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_INTAKE_INTAKE_HANDLER_H_
