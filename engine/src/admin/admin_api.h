// admin/admin_api.h: the operator's HTTP API under /api/v1/admin/ (docs/design.md §10
// "Other endpoints"): service status, sync enable/disable, the jobs of one
// entity, and the dead-letter queue (list, show, replay, purge).
//
// Every route requires "Authorization: Bearer <admin.token>"; an empty token
// closes the API. Answers are JSON; times are ISO 8601 UTC. Bad input is a 400
// naming the parameter, an unknown id a 404, a replay of a dead letter already
// replayed a 409. Answers never carry job payloads or secrets; the one
// exception is the entity's mirror row in /jobs, which is the platform's own
// data, shown for ops.
//
// The handlers hold no state of their own: they read and write through the
// Store (thread-safe) and call the hooks, which must be safe to call from the
// server's threads.
#ifndef CRMSYNC_ENGINE_ADMIN_ADMIN_API_H_
#define CRMSYNC_ENGINE_ADMIN_ADMIN_API_H_

#include <functional>
#include <string>

#include "admin/runtime_status.h"
#include "common/clock.h"
#include "http/router.h"
#include "store/dead_letters.h"
#include "store/queue_inspection.h"
#include "store/sync_states.h"

namespace crmsync::engine {

/// What the admin routes work on: three roles of the store, which must outlive
/// the router; `clock` may be null (the system clock is then used).
struct AdminHooks {
  SyncStates* sync_states = nullptr;      ///< sync pause, resume, enable
  QueueInspection* inspection = nullptr;  ///< status counts, an entity's history
  DeadLetters* dead_letters = nullptr;    ///< list, inspect, replay, purge
  /// The plugin whose sync state /status and /sync/* read and change.
  std::string plugin_name;
  /// The bearer token every route requires; empty refuses every request.
  std::string admin_token;
  Clock* clock = nullptr;
  /// Called after sync is enabled or disabled and after a replay, so waiting
  /// workers look at the queue again. May be empty.
  std::function<void()> on_sync_changed;
  /// The running service's status (workers, circuit breaker, alerts, ...),
  /// shown as "runtime" in /status (admin/runtime_status.h). May be empty ({}
  /// is shown).
  std::function<RuntimeStatus()> runtime_status;
};

/// Adds the routes to `router`:
///   GET    /api/v1/admin/status
///   POST   /api/v1/admin/sync/enable, /api/v1/admin/sync/disable   (body {"reason"} optional)
///   GET    /api/v1/admin/jobs?entity=kind:id[&limit=N]
///   GET    /api/v1/admin/dlq?<filter>
///   GET    /api/v1/admin/dlq/{id}
///   POST   /api/v1/admin/dlq/{id}/replay
///   POST   /api/v1/admin/dlq/replay?<filter>                    (no filter: every open one)
///   DELETE /api/v1/admin/dlq/{id}
///   POST   /api/v1/admin/dlq/purge?<filter>                     (no filter: every open one)
/// <filter> is any of plugin, errorClass, entity (kind:id), since and until
/// (ISO 8601; since inclusive, until exclusive), includeReplayed (true|false),
/// and limit (list and replay only; a replay takes at most 10,000 per call, the
/// oldest first). An unknown query parameter is a 400, so a misspelt filter
/// never widens a replay or a purge.
/// A sync state whose reason starts with this was paused on purpose by ops
/// (POST /api/v1/admin/sync/pause): shown as paused, never alerted.
constexpr char kPausedPrefix[] = "paused by admin: ";
inline bool IsPausedReason(const std::string& reason) {
  return reason.rfind(kPausedPrefix, 0) == 0;
}

void AddAdminRoutes(Router& router, AdminHooks hooks);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_ADMIN_ADMIN_API_H_
