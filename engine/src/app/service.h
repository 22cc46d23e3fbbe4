// app/service.h: the running service, assembled from settings: the store, the
// CRM plugin and the HTTP server with its routes.
//
// Create() does everything that can fail at start-up and reports it as one
// error sentence; Start() then starts serving. Create/Start/Stop from one
// thread; the parts are thread-safe once started.
#ifndef CRMSYNC_ENGINE_APP_SERVICE_H_
#define CRMSYNC_ENGINE_APP_SERVICE_H_

#include <atomic>
#include <chrono>
#include <mutex>
#include <memory>
#include <string>
#include <vector>

#include "admin/runtime_status.h"
#include "common/clock.h"
#include "config/settings.h"
#include "dispatch/dispatcher.h"
#include "http/health.h"
#include "http/server.h"
#include "inbound/agent_directory.h"
#include "inbound/change_feed.h"
#include "inbound/inbound_worker.h"
#include "inbound/poller.h"
#include "webhook/registration.h"
#include "webhook/verify.h"
#include "metrics/metrics.h"
#include "ops/alerts.h"
#include "plugin_host/plugin_loader.h"
#include "plugin_host/store_plugin_host.h"
#include "reconcile/reconciler.h"
#include "reconcile/resyncer.h"
#include "app/open_store.h"
#include "backfill/backfill_runs.h"
#include "store/store.h"
#include "store/write_probe.h"
#include "shadow/shadow_plugin.h"
#include "shadow/shadow_runner.h"

namespace crmsync::engine {

/// plugins.dir, or when empty the folder the binary's build or install layout
/// puts plugins in (<bin>/../plugins, then <bin>/../lib/crmsync/plugins).
std::string ResolvePluginsDir(const config::Settings& settings);

class Service {
 public:
  /// Opens the store, loads and configures the plugin, builds the routes.
  /// nullptr with `*error` naming the cause on failure. `clock` (not owned)
  /// drives every timing decision; nullptr means the system clock.
  static std::unique_ptr<Service> Create(const config::Settings& settings, std::string* error,
                                         Clock* clock = nullptr);
  ~Service();

  /// Starts the workers and listening. Throws std::runtime_error when the port
  /// cannot be bound.
  void Start();
  /// Graceful stop (SIGTERM): intake answers 503 from now on, workers finish
  /// their CRM call within shutdown.deadline_ms, unfinished leases are
  /// released, then the server stops. Returns false when a worker was still
  /// inside a CRM call at the deadline (the caller should exit without
  /// waiting for it). Idempotent.
  bool Stop();

  /// The bound port, after Start().
  int port() const;
  const std::string& host() const;
  /// "https" when server.tls.* is set, else "http".
  const char* scheme() const;
  /// The readiness checks /readyz reports: the store answers a read and its
  /// latest write (or a probe write, at most every few seconds) was durable;
  /// the plugin is loaded; sync is enabled.
  std::vector<ReadyCheck> Readiness();

  /// The state (every role but, on the Redis queue, the queue's).
  Store& store() { return *store_.state; }
  /// What the store is: the state, and the queue when it is elsewhere.
  std::string DescribeStore() const { return store_.Describe(); }
  LoadedPlugin& plugin() { return *plugin_; }
  Dispatcher& dispatcher() { return *dispatcher_; }
  InboundWorker& inbound() { return *inbound_; }
  /// nullptr when the service does not poll the CRM for changes.
  Poller* poller() { return poller_.get(); }
  Alerts& alerts() { return *alerts_; }
  HealthMonitor& monitor() { return *monitor_; }
  /// nullptr when no webhook registration is configured.
  WebhookRegistrar* registrar() { return registrar_.get(); }
  MetricsRegistry& metrics() { return metrics_; }
  /// Every route the service serves (the OpenAPI document is checked against it).
  const Router& router() const { return *router_; }

 private:
  Service() = default;
  void BuildRoutes(Router* router);
  /// The unversioned /api/ aliases of the /api/v1/ routes added so far.
  void AddLegacyApiAliases(Router* router);
  void RegisterQueueGauges();
  /// Store figures, read at most twice a second (metrics scrapes, alerts).
  QueueStats CachedStats();
  bool SetUpInbound(const config::Settings& settings, std::string* error);
  /// The change poller, when inbound.poll and the plugin say so.
  bool SetUpPolling(const config::Settings& settings, std::string* error);
  bool SetUpAlerts(const config::Settings& settings, std::string* error);
  /// Reconcile and resync (reconcile/), their metrics.
  bool SetUpReconcile(const config::Settings& settings, std::string* error);
  /// What GET /api/v1/admin/status shows as "runtime".
  RuntimeStatus CurrentRuntimeStatus();

  std::string plugin_name_;
  Clock* clock_ = nullptr;
  int64_t shutdown_deadline_ms_ = 10000;
  std::atomic<bool> shutting_down_{false};
  bool stopped_ = false;
  MetricsRegistry metrics_;
  std::mutex stats_mu_;
  QueueStats stats_;
  std::chrono::steady_clock::time_point stats_read_at_;
  std::string intake_token_;
  std::string admin_token_;
  bool crm_enabled_ = true;
  OpenedStore store_;
  /// Whether the state store can write (readiness); after store_.
  std::unique_ptr<WriteProbe> write_probe_;
  /// The plugin's PluginHost over store_; outlives plugin_, declared before it.
  std::unique_ptr<StorePluginHost> plugin_host_;
  std::unique_ptr<LoadedPlugin> plugin_;
  // Shadow mode (crm.shadow.*): its plugin, and the runner the dispatcher's
  // workers offer jobs to; before dispatcher_, null when off.
  std::unique_ptr<ShadowPlugin> shadow_plugin_;
  std::unique_ptr<ShadowRunner> shadow_;
  // Before dispatcher_: its workers use it until they stop.
  std::unique_ptr<AgentDirectory> agents_;
  std::unique_ptr<Dispatcher> dispatcher_;
  /// Backfill runs over store_ (after dispatcher_, which it wakes).
  std::unique_ptr<BackfillRuns> backfill_;
  WebhookSecrets webhook_secrets_;
  int64_t webhook_tolerance_s_ = 300;
  std::string webhook_public_url_;  ///< crm.webhook.url: the origin of WebhookDelivery::url.
  std::unique_ptr<InboundWorker> inbound_;
  /// nullptr when this service does not poll (inbound.poll, the plugin's
  /// capabilities); after dispatcher_, whose rate limiter it uses.
  std::unique_ptr<Poller> poller_;
  std::unique_ptr<CallbackSender> callbacks_;
  std::unique_ptr<WebhookRegistrar> registrar_;
  std::unique_ptr<Alerts> alerts_;
  std::unique_ptr<HealthMonitor> monitor_;
  // Reconcile and resync runs (issue 18); after dispatcher_, whose rate
  // limiter and wake they use.
  std::unique_ptr<Reconciler> reconciler_;
  std::unique_ptr<Resyncer> resyncer_;
  std::shared_ptr<Router> router_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_APP_SERVICE_H_
