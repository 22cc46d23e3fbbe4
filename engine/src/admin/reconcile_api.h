// admin/reconcile_api.h: the HTTP API of the service-side runs of reconcile
// and resync (reconcile/reconciler.h, reconcile/resyncer.h):
//
//   POST /api/v1/reconcile        {"entity"?: "lead"|"property", "repair"?: bool}
//   GET  /api/v1/reconcile        the recent runs, newest first
//   GET  /api/v1/reconcile/{run}  one run: progress, counts, rows
//   POST /api/v1/resync           {"entity"?: "lead"|"property"}
//   GET  /api/v1/resync           the recent runs
//   GET  /api/v1/resync/{run}     one run: progress and its jobs
//
// A POST starts a run (201 {"run", "attached": false}) or, while one is
// unfinished, names it (200 {"run", "attached": true}): the CLI re-attaches.
// Bad input is a 400 naming the member; a plugin that cannot do it a 409; an
// unknown run a 404. Every route requires the admin bearer token.
#ifndef CRMSYNC_ENGINE_ADMIN_RECONCILE_API_H_
#define CRMSYNC_ENGINE_ADMIN_RECONCILE_API_H_

#include <string>

#include "http/router.h"
#include "reconcile/reconciler.h"
#include "reconcile/resyncer.h"

namespace crmsync::engine {

/// Adds the routes; `reconciler` and `resyncer` must outlive the router.
void AddReconcileRoutes(Router& router, Reconciler* reconciler, Resyncer* resyncer,
                        const std::string& admin_token);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_ADMIN_RECONCILE_API_H_
