// Service assembly; see service.h.
#include "app/service.h"

#include <unistd.h>

#include <Poco/File.h>
#include <Poco/Path.h>

#include "common/logging.h"
#include "store/sqlite_store.h"

namespace crmsync::engine {

std::string ResolvePluginsDir(const config::Settings& settings) {
  std::string dir = settings.GetString("plugins.dir");
  if (!dir.empty()) return dir;
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) return "plugins";
  exe[n] = '\0';
  Poco::Path bin_dir = Poco::Path(std::string(exe)).parent();
  for (const char* relative : {"../plugins", "../lib/crmsync/plugins", "plugins"}) {
    Poco::Path candidate(bin_dir, relative);
    candidate.makeAbsolute();
    Poco::File file(candidate.toString());
    if (file.exists() && file.isDirectory()) return Poco::Path(candidate).makeFile().toString();
  }
  return Poco::Path(bin_dir, "../plugins").makeFile().toString();
}

std::unique_ptr<Service> Service::Create(const config::Settings& settings, std::string* error) {
  std::unique_ptr<Service> service(new Service());
  service->plugin_name_ = settings.GetString("crm.plugin");
  service->intake_token_ = settings.GetString("intake.token");
  service->admin_token_ = settings.GetString("admin.token");
  service->crm_enabled_ = settings.GetBool("crm.enabled");

  SqliteOptions store_options;
  store_options.path = settings.GetString("store.path");
  store_options.synchronous = settings.GetString("store.synchronous");
  try {
    service->store_ = SqliteStore::Open(store_options);
  } catch (const StoreError& e) {
    *error = std::string("store: ") + e.what();
    return nullptr;
  }

  std::string plugins_dir = ResolvePluginsDir(settings);
  service->plugin_ = LoadedPlugin::Load(plugins_dir, service->plugin_name_, error);
  if (!service->plugin_) return nullptr;
  if (!service->plugin_->Configure(settings.PluginConfigFor(service->plugin_name_), error)) {
    return nullptr;
  }
  ComponentLogger("plugin_host")
      .information("loaded plugin %s %s from %s", service->plugin_->descriptor().name,
                   service->plugin_->descriptor().version, service->plugin_->descriptor().file);

  auto router = std::make_shared<Router>();
  service->BuildRoutes(router.get());
  HttpServerOptions http;
  http.host = settings.GetString("server.host");
  http.port = static_cast<int>(settings.GetInt("server.port"));
  http.threads = static_cast<int>(settings.GetInt("server.threads"));
  http.queue = static_cast<int>(settings.GetInt("server.queue"));
  http.max_body_bytes = settings.GetInt("server.max_body_bytes");
  service->server_ = std::make_unique<HttpServer>(http, router);
  return service;
}

Service::~Service() { Stop(); }

void Service::BuildRoutes(Router* router) {
  AddHealthRoutes(*router, [this] { return Readiness(); });
  // What the CRM plugin holds (mock-crm: its whole in-memory CRM), for ops and newcomers.
  router->Add("GET", "/api/admin/crm/dump", [this](HttpContext& ctx) {
    if (!ctx.RequireBearer(admin_token_)) return;
    ctx.SendJson(200, plugin_->adapter().Dump());
  });
}

std::vector<ReadyCheck> Service::Readiness() {
  std::vector<ReadyCheck> checks;
  std::string why;
  bool store_ok = store_->Check(&why);
  checks.push_back({"store", store_ok, store_ok ? store_->Describe() : why});
  checks.push_back({"plugin", plugin_ != nullptr,
                    plugin_->descriptor().name + " " + plugin_->descriptor().version});
  if (!crm_enabled_) {
    checks.push_back({"sync", false, "disabled by configuration (crm.enabled=false)"});
  } else if (store_ok) {
    SyncState state = store_->GetSyncState(plugin_name_);
    checks.push_back({"sync", state.enabled,
                      state.enabled ? "enabled" : "disabled since " + state.changed_at + ": " +
                                                       state.reason});
  } else {
    checks.push_back({"sync", false, "unknown: the store cannot be read"});
  }
  return checks;
}

void Service::Start() {
  server_->Start();
  ComponentLogger("http").information("listening on http://%s:%d", server_->host(), server_->port());
}

void Service::Stop() {
  if (server_) server_->Stop();
}

int Service::port() const { return server_->port(); }
const std::string& Service::host() const { return server_->host(); }

}  // namespace crmsync::engine
