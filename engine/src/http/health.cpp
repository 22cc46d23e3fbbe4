// Health endpoints; see health.h.
#include "http/health.h"

#include "common/json_writer.h"

namespace crmsync::engine {
namespace {

// True when the request carries the admin token (constant-time compare). An
// empty token (admin API closed) matches nothing.
bool IsAdmin(const HttpContext& ctx, const std::string& admin_token) {
  static const std::string kPrefix = "Bearer ";
  const std::string header = ctx.request().header("Authorization");
  return !admin_token.empty() && header.size() > kPrefix.size() &&
         header.compare(0, kPrefix.size(), kPrefix) == 0 &&
         ConstantTimeEquals(header.substr(kPrefix.size()), admin_token);
}

}  // namespace

void AddHealthRoutes(Router& router, std::function<std::vector<ReadyCheck>()> readiness,
                     std::string admin_token) {
  router.AddInline("GET", "/healthz", [](HttpContext& ctx) { ctx.SendJson(200, "{\"status\":\"ok\"}"); });
  router.Add("GET", "/readyz", [readiness, admin_token](HttpContext& ctx) {
    const bool admin = IsAdmin(ctx, admin_token);
    std::vector<ReadyCheck> checks = readiness();
    bool ready = true;
    std::vector<std::string> list;
    for (const ReadyCheck& c : checks) {
      ready = ready && c.ok;
      const std::string& detail = admin && !c.admin_detail.empty() ? c.admin_detail : c.detail;
      list.push_back(JsonObject().Str("name", c.name).Bool("ok", c.ok).Str("detail", detail).Done());
    }
    ctx.SendJson(ready ? 200 : 503,
                 JsonObject().Bool("ready", ready).Raw("checks", JsonArray(list)).Done());
  });
}

}  // namespace crmsync::engine
