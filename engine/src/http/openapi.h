// http/openapi.h: the HTTP API's OpenAPI 3.1 document (docs/openapi.yaml),
// compiled into the binary as JSON (cmake/embed_openapi.py generates its
// definition at build time), and the route that serves it.
#ifndef CRMSYNC_ENGINE_HTTP_OPENAPI_H_
#define CRMSYNC_ENGINE_HTTP_OPENAPI_H_

#include <string_view>

#include "http/router.h"

namespace crmsync::engine {

/// docs/openapi.yaml as compact JSON, as it was when the binary was built.
std::string_view OpenApiJson();

/// Adds GET /api/v1/openapi.json (no token: the document holds no data).
void AddOpenApiRoute(Router& router);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_HTTP_OPENAPI_H_
