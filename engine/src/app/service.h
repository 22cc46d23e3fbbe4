// app/service.h: the running service, assembled from settings: the store, the
// CRM plugin and the HTTP server with its routes.
//
// Create() does everything that can fail at start-up and reports it as one
// error sentence; Start() then starts serving. Create/Start/Stop from one
// thread; the parts are thread-safe once started.
#ifndef CRMSYNC_ENGINE_APP_SERVICE_H_
#define CRMSYNC_ENGINE_APP_SERVICE_H_

#include <memory>
#include <string>
#include <vector>

#include "config/settings.h"
#include "http/health.h"
#include "http/server.h"
#include "plugin_host/plugin_loader.h"
#include "store/store.h"

namespace crmsync::engine {

/// plugins.dir, or when empty the folder the binary's build or install layout
/// puts plugins in (<bin>/../plugins, then <bin>/../lib/crmsync/plugins).
std::string ResolvePluginsDir(const config::Settings& settings);

class Service {
 public:
  /// Opens the store, loads and configures the plugin, builds the routes.
  /// nullptr with `*error` naming the cause on failure.
  static std::unique_ptr<Service> Create(const config::Settings& settings, std::string* error);
  ~Service();

  /// Starts listening. Throws std::runtime_error when the port cannot be bound.
  void Start();
  /// Stops serving and waits for requests in progress. Idempotent.
  void Stop();

  /// The bound port, after Start().
  int port() const;
  const std::string& host() const;
  /// The readiness checks /readyz reports.
  std::vector<ReadyCheck> Readiness();

  Store& store() { return *store_; }
  LoadedPlugin& plugin() { return *plugin_; }

 private:
  Service() = default;
  void BuildRoutes(Router* router);

  std::string plugin_name_;
  std::string intake_token_;
  std::string admin_token_;
  bool crm_enabled_ = true;
  std::unique_ptr<Store> store_;
  std::unique_ptr<LoadedPlugin> plugin_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_APP_SERVICE_H_
