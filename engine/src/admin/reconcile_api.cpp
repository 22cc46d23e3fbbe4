// The reconcile and resync routes; see reconcile_api.h.
#include "admin/reconcile_api.h"

#include <sstream>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include "common/json_writer.h"
#include "common/logging.h"

namespace crmsync::engine {
namespace {

using Poco::JSON::Object;

// The POST body: {"entity"?, "repair"?} (repair only when `allow_repair`).
// False (400 sent) when it is not that.
bool ReadRunBody(HttpContext& ctx, bool allow_repair, std::string* entity, bool* repair) {
  std::string body;
  if (!ctx.ReadBody(&body)) return false;
  *repair = false;
  entity->clear();
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return true;
  Object::Ptr object;
  try {
    Poco::Dynamic::Var parsed = Poco::JSON::Parser().parse(body);
    if (parsed.type() == typeid(Object::Ptr)) object = parsed.extract<Object::Ptr>();
  } catch (const std::exception&) {
  }
  const std::string shape =
      allow_repair ? "{\"entity\": \"lead\"|\"property\", \"repair\": true|false}"
                   : "{\"entity\": \"lead\"|\"property\"}";
  if (!object) {
    ctx.SendError(400, "body: must be a JSON object like " + shape);
    return false;
  }
  for (const std::string& name : object->getNames()) {
    if (name != "entity" && !(allow_repair && name == "repair")) {
      ctx.SendError(400, "body: unknown member \"" + name + "\"; expected " + shape);
      return false;
    }
  }
  if (object->has("entity")) {
    Poco::Dynamic::Var value = object->get("entity");
    if (!value.isString()) {
      ctx.SendError(400, "entity: must be \"lead\" or \"property\"");
      return false;
    }
    *entity = value.extract<std::string>();
  }
  if (object->has("repair")) {
    Poco::Dynamic::Var value = object->get("repair");
    if (value.type() != typeid(bool)) {
      ctx.SendError(400, "repair: must be true or false");
      return false;
    }
    *repair = value.extract<bool>();
  }
  return true;
}

std::string Text(const Object& object) {
  std::ostringstream out;
  object.stringify(out);
  return out.str();
}

std::string RunsJson(const std::vector<Object::Ptr>& runs) {
  Poco::JSON::Array list;
  for (const Object::Ptr& run : runs) list.add(run);
  Object answer;
  answer.set("runs", list);
  return Text(answer);
}

// POST's answer, after Begin().
void Started(HttpContext& ctx, bool ok, const std::string& run, bool attached, bool conflict,
             const std::string& error) {
  if (!ok) {
    ctx.SendError(conflict ? 409 : 400, error);
    return;
  }
  ctx.SendJson(attached ? 200 : 201, JsonObject().Str("run", run).Bool("attached", attached).Done());
}

}  // namespace

void AddReconcileRoutes(Router& router, Reconciler* reconciler, Resyncer* resyncer,
                        const std::string& admin_token) {
  const std::string base = kApiV1;
  router.Add("POST", base + "reconcile", [reconciler, admin_token](HttpContext& ctx) {
    if (!ctx.RequireBearer(admin_token)) return;
    std::string entity, run, error;
    bool repair = false, attached = false, conflict = false;
    if (!ReadRunBody(ctx, true, &entity, &repair)) return;
    bool ok = false;
    try {
      ok = reconciler->Begin(entity, repair, &run, &attached, &conflict, &error);
    } catch (const std::exception& e) {
      ctx.SendError(503, std::string("the store cannot be used: ") + e.what());
      return;
    }
    if (ok && !attached) {
      ComponentLogger("reconcile").notice("reconcile run %s started by admin (%s%s)", run,
                                          entity.empty() ? std::string("all") : entity,
                                          std::string(repair ? ", repair" : ""));
    }
    Started(ctx, ok, run, attached, conflict, error);
  });
  router.Add("GET", base + "reconcile", [reconciler, admin_token](HttpContext& ctx) {
    if (!ctx.RequireBearer(admin_token)) return;
    ctx.SendJson(200, RunsJson(reconciler->Recent()));
  });
  router.Add("GET", base + "reconcile/{run}", [reconciler, admin_token](HttpContext& ctx) {
    if (!ctx.RequireBearer(admin_token)) return;
    Object::Ptr run = reconciler->Get(ctx.PathParam("run"));
    if (!run) {
      ctx.SendError(404, "no reconcile run " + ctx.PathParam("run"));
      return;
    }
    ctx.SendJson(200, Text(*run));
  });
  router.Add("POST", base + "resync", [resyncer, admin_token](HttpContext& ctx) {
    if (!ctx.RequireBearer(admin_token)) return;
    std::string entity, run, error;
    bool repair = false, attached = false, conflict = false;
    if (!ReadRunBody(ctx, false, &entity, &repair)) return;
    bool ok = false;
    try {
      ok = resyncer->Begin(entity, &run, &attached, &conflict, &error);
    } catch (const std::exception& e) {
      ctx.SendError(503, std::string("the store cannot be used: ") + e.what());
      return;
    }
    if (ok && !attached) {
      ComponentLogger("resync").notice("resync run %s started by admin (%s)", run,
                                       entity.empty() ? std::string("all") : entity);
    }
    Started(ctx, ok, run, attached, conflict, error);
  });
  router.Add("GET", base + "resync", [resyncer, admin_token](HttpContext& ctx) {
    if (!ctx.RequireBearer(admin_token)) return;
    ctx.SendJson(200, RunsJson(resyncer->Recent()));
  });
  router.Add("GET", base + "resync/{run}", [resyncer, admin_token](HttpContext& ctx) {
    if (!ctx.RequireBearer(admin_token)) return;
    Object::Ptr run = resyncer->Get(ctx.PathParam("run"));
    if (!run) {
      ctx.SendError(404, "no resync run " + ctx.PathParam("run"));
      return;
    }
    ctx.SendJson(200, Text(*run));
  });
}

}  // namespace crmsync::engine
