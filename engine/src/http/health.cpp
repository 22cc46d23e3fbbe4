// Health endpoints; see health.h.
#include "http/health.h"

#include "common/json_writer.h"

namespace crmsync::engine {

void AddHealthRoutes(Router& router, std::function<std::vector<ReadyCheck>()> readiness) {
  router.AddInline("GET", "/healthz", [](HttpContext& ctx) { ctx.SendJson(200, "{\"status\":\"ok\"}"); });
  router.Add("GET", "/readyz", [readiness](HttpContext& ctx) {
    std::vector<ReadyCheck> checks = readiness();
    bool ready = true;
    std::vector<std::string> list;
    for (const ReadyCheck& c : checks) {
      ready = ready && c.ok;
      list.push_back(JsonObject().Str("name", c.name).Bool("ok", c.ok).Str("detail", c.detail).Done());
    }
    ctx.SendJson(ready ? 200 : 503,
                 JsonObject().Bool("ready", ready).Raw("checks", JsonArray(list)).Done());
  });
}

}  // namespace crmsync::engine
