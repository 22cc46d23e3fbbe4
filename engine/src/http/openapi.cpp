// The OpenAPI document's route; see openapi.h (OpenApiJson() is generated).
#include "http/openapi.h"

#include <string>

namespace crmsync::engine {

void AddOpenApiRoute(Router& router) {
  router.Add("GET", std::string(kApiV1) + "openapi.json", [](HttpContext& ctx) {
    ctx.SendJson(200, std::string(OpenApiJson()));
  });
}

}  // namespace crmsync::engine
