// Health endpoints; see health.h.
#include "http/health.h"

namespace crmsync::engine {

void AddHealthRoutes(Router& router, std::function<std::vector<ReadyCheck>()> readiness) {
  router.AddInline("GET", "/healthz", [](HttpContext& ctx) { ctx.SendJson(200, "{\"status\":\"ok\"}"); });
  router.Add("GET", "/readyz", [readiness](HttpContext& ctx) {
    std::vector<ReadyCheck> checks = readiness();
    bool ready = true;
    std::string list;
    for (const ReadyCheck& c : checks) {
      ready = ready && c.ok;
      if (!list.empty()) list += ",";
      list += "{\"name\":" + JsonQuote(c.name) + ",\"ok\":" + (c.ok ? "true" : "false") +
              ",\"detail\":" + JsonQuote(c.detail) + "}";
    }
    ctx.SendJson(ready ? 200 : 503,
                 std::string("{\"ready\":") + (ready ? "true" : "false") + ",\"checks\":[" + list + "]}");
  });
}

}  // namespace crmsync::engine
