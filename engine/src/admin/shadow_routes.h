// admin/shadow_routes.h: shadow mode's admin API (docs/design.md §11), with
// the admin token:
//   GET    /api/v1/shadow   the summary (ShadowRunner::Report())
//   DELETE /api/v1/shadow   forgets it, so a new mapping version starts clean;
//                           answers the empty summary
// Both answer 404 {"error"} naming crm.shadow.plugin when shadow mode is off.
//
// The handlers only call the runner, which is thread-safe.
#ifndef CRMSYNC_ENGINE_ADMIN_SHADOW_ROUTES_H_
#define CRMSYNC_ENGINE_ADMIN_SHADOW_ROUTES_H_

#include <string>

#include "http/router.h"
#include "shadow/shadow_runner.h"

namespace crmsync::engine {

/// Adds the routes; `runner` (not owned, outlives the router) is nullptr when
/// shadow mode is off.
void AddShadowRoutes(Router& router, ShadowRunner* runner, const std::string& admin_token);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_ADMIN_SHADOW_ROUTES_H_
