// http/health.h: GET /healthz (the process answers) and GET /readyz (the
// service can do its job: store readable and writable, plugin loaded, sync
// enabled).
//
// /readyz is open to load balancers and probes, so what it shows anyone names
// no path and quotes no error text (both may hold a file path or a host); the
// same request with the admin token gets each check's full detail.
//
// The readiness function is called per request on server threads; it must be
// thread-safe.
#ifndef CRMSYNC_ENGINE_HTTP_HEALTH_H_
#define CRMSYNC_ENGINE_HTTP_HEALTH_H_

#include <functional>
#include <string>
#include <vector>

#include "http/router.h"

namespace crmsync::engine {

/// One readiness check and its result.
struct ReadyCheck {
  std::string name;    ///< "store", "plugin", "sync"
  bool ok = false;
  std::string detail;  ///< Shown to anyone: no path, no error text, no secret.
  /// Shown with the admin token instead of `detail` (paths and reasons
  /// allowed, never a secret); "" means the same as `detail`.
  std::string admin_detail;
};

/// Adds /healthz and /readyz. /readyz answers 200 when every check is ok,
/// else 503; both with {"ready":bool,"checks":[{"name","ok","detail"}]}, the
/// admin details when the request carries "Authorization: Bearer
/// <admin_token>" (a missing or wrong token is not an error here: the caller
/// simply gets the public details).
void AddHealthRoutes(Router& router, std::function<std::vector<ReadyCheck>()> readiness,
                     std::string admin_token);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_HTTP_HEALTH_H_
