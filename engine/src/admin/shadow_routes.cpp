// Shadow mode's admin API; see shadow_routes.h.
#include "admin/shadow_routes.h"

namespace crmsync::engine {

void AddShadowRoutes(Router& router, ShadowRunner* runner, const std::string& admin_token) {
  const std::string path = std::string(kApiV1) + "shadow";
  auto answer = [runner, admin_token](HttpContext& ctx, bool reset) {
    if (!ctx.RequireBearer(admin_token)) return;
    if (!runner) {
      ctx.SendError(404, "shadow mode is off: crm.shadow.plugin is not set");
      return;
    }
    if (reset) runner->Reset();
    ctx.SendJson(200, runner->Report());
  };
  router.Add("GET", path, [answer](HttpContext& ctx) { answer(ctx, false); });
  router.Add("DELETE", path, [answer](HttpContext& ctx) { answer(ctx, true); });
}

}  // namespace crmsync::engine
