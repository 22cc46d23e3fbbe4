// backfill/backfill_api.h: the backfill routes of the admin API (docs/design.md
// §3 "Backfill", docs/openapi.yaml), over BackfillRuns:
//
//   POST /api/v1/backfill?run=ID&offset=N[&strict=true][&final=true][&total=N][&source=NAME]
//        body: NDJSON, lines offset+1.. of the file (at most kMaxBackfillChunkLines)
//        200 {"run", "accepted", "unchanged", "duplicates", "invalid": [{"line",
//             "errors": [{"path", "message"}]}], "nextOffset", "totals": <run>}
//        409 {"error"}: offset is not where the run continues (GET the run)
//        422 {"error", "details": [{"path", "message"}]}: strict, and a bad
//            line (the message names its number; details its problems)
//   GET  /api/v1/backfill          {"runs": [<run>...], "queue": <queue>}
//   GET  /api/v1/backfill/{run}    <run> plus "queue": <queue>
//
// <queue> is {"bulkReady", "queued", "leased", "delayed", "synced"}: synced
// when no bulk job is ready and none is leased or queued (what the CLI waits
// for). Every route requires the admin token.
//
// Handlers run on the server's threads; BackfillRuns is thread-safe.
#ifndef CRMSYNC_ENGINE_BACKFILL_BACKFILL_API_H_
#define CRMSYNC_ENGINE_BACKFILL_BACKFILL_API_H_

#include <atomic>
#include <functional>
#include <string>

#include "backfill/backfill_runs.h"
#include "http/router.h"
#include "queue/queue_types.h"

namespace crmsync::engine {

struct BackfillApiContext {
  BackfillRuns* runs = nullptr;  ///< Outlives the router.
  /// The queue figures (the service's cached store stats).
  std::function<QueueStats()> stats;
  std::string admin_token;
  /// Set while the service stops: imports answer 503.
  const std::atomic<bool>* shutting_down = nullptr;
};

void AddBackfillRoutes(Router& router, BackfillApiContext ctx);

/// The "queue" object of the answers, from `stats`.
std::string BackfillQueueJson(const QueueStats& stats);

/// /api/v1/admin/status's runtime.backfill: {"running": N, "latest": <run>|null,
/// "queue": <queue>}. The runs are read from the store: "latest" is null and
/// "error" says why when it cannot be read.
std::string BackfillRuntimeJson(BackfillRuns& runs, const QueueStats& stats);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_BACKFILL_BACKFILL_API_H_
