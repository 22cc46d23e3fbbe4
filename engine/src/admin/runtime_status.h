// admin/runtime_status.h: the "runtime" object of GET /api/v1/admin/status: what
// the running service shows ops (the dispatcher's status, the firing alerts,
// the webhook registration), as a plain value and its one JSON rendering.
//
// Plain values and a pure function; thread-safe.
#ifndef CRMSYNC_ENGINE_ADMIN_RUNTIME_STATUS_H_
#define CRMSYNC_ENGINE_ADMIN_RUNTIME_STATUS_H_

#include <string>
#include <vector>

#include "dispatch/dispatch_status.h"
#include "inbound/poller.h"
#include "ops/alerts.h"
#include "shadow/shadow_summary.h"

namespace crmsync::engine {

struct RuntimeStatus {
  DispatchStatus dispatch;
  /// The alerts firing now.
  std::vector<ActiveAlert> alerts;
  /// The CRM webhook registration's state; "not configured" without one.
  std::string webhook_registration = "not configured";
  /// Change polling; enabled false when this engine does not poll.
  /// Backfill: backfill/backfill_api.h's BackfillRuntimeJson; "" leaves it out.
  std::string backfill;
  PollStatus poll;
  /// The last reconcile and resync runs in brief, JSON ("null": none;
  /// reconcile/reconciler.h, reconcile/resyncer.h).
  std::string reconcile = "null";
  std::string resync = "null";
  /// Shadow mode (docs/design.md §11); enabled false when it is off.
  ShadowFigures shadow;
};

/// {"workers", "syncEnabled", "circuit": {"state", "openedTotal", "probeAt"?},
///  "rateLimit": {"perSecond" (0: unlimited), "rateLimitedTotal", "windowsTotal",
///  "pausedUntil"?, "windowUntil"?, "budget"?: {"remaining", "resetAt", "pacing"}},
///  "jobsFinished", "alerts": [{"kind", "subject", "message", "since"}],
///  "inbound": {"webhookRegistration"},
///  "poll": {"enabled", "intervalMs"?, "leader"?, "entities"?: [{"entity", "polling",
///  "lastSuccess"?, "lastError"?, "lastErrorAt"?, "changes", "errors", "cursor": "set"|"none"}]},
///  "reconcile": the last run or null, "resync": the last run or null,
///  "shadow": {"enabled", "compared"?, "identical"?, "differing"?, "errors"?,
///  "dropped"?, "sandboxSent"?, "queueDepth"?, "queueCapacity"?},
///  "backfill"?: {"running", "latest", "queue"}};
/// "?" members only when they apply, times ISO 8601 UTC. A poll cursor is opaque
/// and may hold a token: never shown, only whether one is kept.
std::string RuntimeStatusJson(const RuntimeStatus& status);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_ADMIN_RUNTIME_STATUS_H_
