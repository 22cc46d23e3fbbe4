// http/health.h: GET /healthz (the process answers) and GET /readyz (the
// service can do its job: store open, plugin loaded, sync enabled).
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
  std::string detail;  ///< Human-readable; no secrets.
};

/// Adds /healthz and /readyz. /readyz answers 200 when every check is ok,
/// else 503; both with {"ready":bool,"checks":[{"name","ok","detail"}]}.
void AddHealthRoutes(Router& router, std::function<std::vector<ReadyCheck>()> readiness);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_HTTP_HEALTH_H_
