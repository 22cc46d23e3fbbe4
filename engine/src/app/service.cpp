// Service assembly; see service.h.
#include "app/service.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <mutex>
#include <set>

#include <Poco/Environment.h>
#include <Poco/File.h>
#include <Poco/Path.h>

#include "admin/admin_api.h"
#include "admin/reconcile_api.h"
#include "admin/shadow_routes.h"
#include "admin/ui_routes.h"
#include "app/open_store.h"
#include "app/start_checks.h"
#include "backfill/backfill_api.h"
#include "common/logging.h"
#include "http/openapi.h"
#include "intake/intake_handler.h"
#include "metrics/process_metrics.h"
#include "webhook/webhook_handler.h"

namespace crmsync::engine {
namespace {

// The Deprecation header (RFC 9745) of the unversioned /api/ paths: the day
// /api/v1 replaced them, 2026-12-03T00:00:00Z.
constexpr char kLegacyApiDeprecation[] = "@1796256000";

}  // namespace

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
    if (file.exists() && file.isDirectory()) {
      char resolved[PATH_MAX];
      if (realpath(candidate.toString().c_str(), resolved) != nullptr) return resolved;
      return Poco::Path(candidate).makeFile().toString();
    }
  }
  return Poco::Path(bin_dir, "../plugins").makeFile().toString();
}

std::unique_ptr<Service> Service::Create(const config::Settings& settings, std::string* error,
                                         Clock* clock) {
  std::unique_ptr<Service> service(new Service());
  service->clock_ = clock ? clock : &SystemClock::Instance();
  service->shutdown_deadline_ms_ = settings.GetInt("shutdown.deadline_ms");
  service->plugin_name_ = settings.GetString("crm.plugin");
  service->intake_token_ = settings.GetString("intake.token");
  service->admin_token_ = settings.GetString("admin.token");
  service->crm_enabled_ = settings.GetBool("crm.enabled");

  // The same checks check-config runs (app/start_checks.h), before anything
  // is created; the plugin they loaded is the one used. When every other
  // check passed they open the store, so the plugin is attached to its
  // PluginHost over it before it is configured (app/plugin_hosts.h).
  Service* opening = service.get();
  PluginHostSource host;
  host.creates_store = true;
  host.open = [opening, &settings](std::string* why) -> PluginHost* {
    try {
      opening->store_ = OpenStore(settings);
    } catch (const StoreError& e) {
      *why = std::string("store: ") + e.what();
      return nullptr;
    }
    opening->plugin_host_ = std::make_unique<StorePluginHost>(
        opening->plugin_name_, opening->store_.state.get(), opening->clock_);
    return opening->plugin_host_.get();
  };
  StartCheckReport checks = RunStartChecks(settings, host);
  if (checks.HasErrors()) {
    *error = checks.ErrorText();
    return nullptr;
  }
  for (const config::Diagnostic& d : checks.problems) ComponentLogger("app").warning(d.message);
  service->plugin_ = std::move(checks.plugin);
  service->shadow_plugin_ = std::move(checks.shadow);
  service->write_probe_ = std::make_unique<WriteProbe>(service->store_.state.get(), service->clock_);

  ComponentLogger("plugin_host")
      .information("loaded plugin %s %s from %s", service->plugin_->descriptor().name,
                   service->plugin_->descriptor().version, service->plugin_->descriptor().file);

  // The agent directory serves the dispatcher (outbound agents) and the
  // inbound worker (inbound agents).
  AgentDirectoryConfig agents;
  agents.ttl_ms = settings.GetInt("inbound.agent_ttl_ms");
  if (!AgentDirectory::ParsePairs(settings.GetList("inbound.agent_map"), &agents.agent_map,
                                  error) ||
      !AgentDirectory::ParseEmails(settings.GetList("inbound.agent_emails"),
                                   &agents.dealer_emails, error)) {
    return nullptr;
  }
  service->agents_ = std::make_unique<AgentDirectory>(
      std::move(agents), &service->plugin_->adapter(), service->clock_, &service->metrics_);

  DispatcherOptions dispatch;
  dispatch.agents = service->agents_.get();
  dispatch.plugin = service->plugin_name_;
  dispatch.crm_enabled = service->crm_enabled_;
  dispatch.workers = static_cast<int>(settings.GetInt("workers.count"));
  dispatch.lease_batch = static_cast<int>(settings.GetInt("queue.lease_batch"));
  dispatch.lease_ms = settings.GetInt("queue.lease_ms");
  dispatch.retry_delay_ms = settings.GetInt("crm.retry.delay");
  dispatch.retry_attempts = static_cast<int>(settings.GetInt("crm.retry.attempts"));
  dispatch.retry_jitter = settings.GetBool("crm.retry.jitter");
  dispatch.circuit_threshold = static_cast<int>(settings.GetInt("circuit.failure_threshold"));
  dispatch.circuit_open_ms = settings.GetInt("circuit.open_ms");
  dispatch.circuit_max_open_ms = settings.GetInt("circuit.max_open_ms");
  dispatch.max_outage_ms = settings.GetDurationMs("crm.retry.max_outage");
  dispatch.rate_limit_per_s = static_cast<double>(settings.GetInt("crm.rate_limit"));
  // The plugin's own budget headers (e.g. a generic-rest-crm mapping's
  // rateLimit), else the defaults; read by the start checks.
  dispatch.budget_headers = checks.budget_headers;
  Service* raw = service.get();
  dispatch.on_sync_disabled = [raw] {
    if (raw->monitor_) raw->monitor_->Evaluate();
  };
  if (service->shadow_plugin_) {
    // Shadow mode: every job the live adapter ran, offered (never waited for).
    ShadowOptions shadow;
    shadow.plugin = settings.GetString("crm.shadow.plugin");
    shadow.mapping = ShadowPluginConfig(settings).Get("mapping");
    shadow.url = settings.GetString("crm.shadow.url");
    shadow.capacity = static_cast<size_t>(settings.GetInt("crm.shadow.queue"));
    shadow.secrets = settings.SecretValues();
    service->shadow_ = std::make_unique<ShadowRunner>(
        shadow, &service->plugin_->adapter(), &service->shadow_plugin_->plugin->adapter(),
        service->store_.state.get(), service->clock_, &service->metrics_);
    ShadowRunner* runner = service->shadow_.get();
    dispatch.on_built = [runner](BuiltJob&& job) { runner->Offer(std::move(job)); };
  }
  service->dispatcher_ = std::make_unique<Dispatcher>(
      dispatch, service->store_.queue(), service->store_.state.get(), &service->plugin_->adapter(),
      service->plugin_->info().capabilities, service->clock_, &service->metrics_);

  // Backfill: imports chunks of existing records as bulk jobs (backfill/backfill_runs.h).
  service->backfill_ = std::make_unique<BackfillRuns>(
      service->store_.state.get(), service->store_.state.get(), service->clock_,
      service->plugin_->info().capabilities.lookup_by_reference, &service->metrics_,
      [raw] { raw->dispatcher_->Wake(); });

  if (!service->SetUpInbound(settings, error)) return nullptr;
  if (!service->SetUpPolling(settings, error)) return nullptr;
  if (!service->SetUpAlerts(settings, error)) return nullptr;
  if (!service->SetUpReconcile(settings, error)) return nullptr;

  auto router = std::make_shared<Router>();
  service->BuildRoutes(router.get());
  AddUiRoutes(*router, ResolveUiDir(settings));
  service->router_ = router;
  HttpServerOptions http;
  http.host = settings.GetString("server.host");
  http.port = static_cast<int>(settings.GetInt("server.port"));
  http.threads = static_cast<int>(settings.GetInt("server.threads"));
  http.queue = static_cast<int>(settings.GetInt("server.queue"));
  http.max_body_bytes = settings.GetInt("server.max_body_bytes");
  http.max_connections = static_cast<int>(settings.GetInt("server.max_connections"));
  http.busy_connections = static_cast<int>(settings.GetInt("server.busy_connections"));
  http.header_timeout_ms = settings.GetDurationMs("server.header_timeout");
  http.body_timeout_ms = settings.GetDurationMs("server.body_timeout");
  http.idle_timeout_ms = settings.GetDurationMs("server.keepalive_timeout");
  http.busy_idle_timeout_ms = settings.GetDurationMs("server.busy_keepalive_timeout");
  // HTTPS when server.tls.cert and server.tls.key are set; the start checks
  // loaded and matched them.
  http.tls = checks.tls;
  service->server_ = std::make_unique<HttpServer>(http, router);
  HttpServer* server = service->server_.get();
  MetricsRegistry& m = service->metrics_;
  m.AddGauge("crmsync_http_connections", "Open HTTP connections (idle keep-alive included).", {},
             [server] { return static_cast<double>(server->stats().open_connections); });
  m.AddCounterFunc("crmsync_http_requests_total", "HTTP requests read whole and handed to a route.",
                   {}, [server] { return static_cast<double>(server->stats().requests_total); });
  m.AddCounterFunc("crmsync_http_refused_total",
                   "HTTP requests the server refused itself (malformed, too large a head, timed out).",
                   {}, [server] { return static_cast<double>(server->stats().refused_total); });
  m.AddCounterFunc("crmsync_http_timeouts_total",
                   "HTTP connections closed by a deadline (head, body, answer write).", {},
                   [server] { return static_cast<double>(server->stats().timed_out_total); });
  m.AddCounterFunc("crmsync_http_idle_closed_total",
                   "Idle keep-alive connections closed (timeout, busy, or to make room).", {},
                   [server] { return static_cast<double>(server->stats().idle_closed_total); });
  m.AddCounterFunc("crmsync_http_shed_total",
                   "Connections refused with 503 at server.max_connections.", {},
                   [server] { return static_cast<double>(server->stats().shed_total); });
  m.AddCounterFunc("crmsync_http_tls_failed_total",
                   "TLS handshakes that failed (an old protocol, a plain HTTP request, a reset).",
                   {}, [server] { return static_cast<double>(server->stats().tls_failed_total); });
  return service;
}

Service::~Service() { Stop(); }

bool Service::SetUpAlerts(const config::Settings& settings, std::string* error) {
  RetryPolicy policy(settings.GetInt("crm.retry.delay"),
                     static_cast<int>(settings.GetInt("crm.retry.attempts")), false);
  alerts_ = Alerts::Create(settings.GetString("alerts.webhook_url"),
                           settings.GetBool("crm.allow_insecure_http"), policy, clock_, &metrics_,
                           error);
  if (!alerts_) return false;
  HealthProbes probes;
  probes.plugin = plugin_name_;
  if (crm_enabled_) {
    probes.sync_enabled = [this](std::string* reason) {
      SyncState state = store_.state->GetSyncState(plugin_name_);
      *reason = state.reason;
      return state.enabled || IsPausedReason(state.reason);  // a pause is on purpose
    };
  }
  probes.circuit_open = [this] {
    return dispatcher_->breaker().state(clock_->NowMs()) != CircuitBreaker::State::kClosed;
  };
  probes.success_ratio = [this] { return dispatcher_->calls().SuccessRatio(clock_->NowMs()); };
  probes.calls_in_window = [this] { return dispatcher_->calls().Total(clock_->NowMs()); };
  probes.queue_depth = [this] {
    QueueStats s = CachedStats();
    return s.ready + s.queued + s.delayed + s.leased;
  };
  probes.oldest_job_age_s = [this] {
    int64_t oldest = CachedStats().oldest_pending_created_ms;
    return oldest == 0 ? int64_t{0} : (clock_->NowMs() - oldest) / 1000;
  };
  HealthThresholds thresholds;
  thresholds.max_failure_ratio = static_cast<double>(settings.GetInt("alerts.failure_percent")) / 100.0;
  thresholds.min_calls = settings.GetInt("alerts.min_calls");
  thresholds.max_queue_depth = settings.GetInt("alerts.queue_depth");
  thresholds.max_oldest_job_age_s = settings.GetInt("alerts.oldest_job_age_s");
  thresholds.check_interval_ms = settings.GetInt("alerts.check_interval_ms");
  monitor_ = std::make_unique<HealthMonitor>(alerts_.get(), probes, thresholds, clock_);
  return true;
}

RuntimeStatus Service::CurrentRuntimeStatus() {
  RuntimeStatus status;
  status.dispatch = dispatcher_->Status();
  status.alerts = alerts_->Active();
  if (registrar_) status.webhook_registration = registrar_->state();
  if (poller_) status.poll = poller_->Status();
  status.backfill = BackfillRuntimeJson(*backfill_, CachedStats());
  status.reconcile = reconciler_->LastJson();
  status.resync = resyncer_->LastJson();
  if (shadow_) status.shadow = shadow_->Figures();
  return status;
}

// --- reconcile and resync (issue 18) -----------------------------------------

bool Service::SetUpReconcile(const config::Settings& settings, std::string* error) {
  ReconcileOptions reconcile;
  reconcile.plugin = plugin_name_;
  reconcile.lookup_by_reference = plugin_->info().capabilities.lookup_by_reference;
  reconcile.page_size = static_cast<int>(settings.GetInt("reconcile.page_size"));
  if (!ParseFieldOwnership(settings.GetString("inbound.crm_owns_status_from"),
                           settings.GetList("reconcile.crm_fields"), &reconcile.ownership, error)) {
    return false;
  }
  auto wake = [this] { dispatcher_->Wake(); };
  reconciler_ = std::make_unique<Reconciler>(reconcile, store_.state.get(), &plugin_->adapter(),
                                             &dispatcher_->limiter(), clock_, &metrics_, wake);
  ResyncOptions resync;
  resync.plugin = plugin_name_;
  resync.lookup_by_reference = reconcile.lookup_by_reference;
  resync.page_size = reconcile.page_size;
  resyncer_ = std::make_unique<Resyncer>(resync, store_.state.get(), clock_, &metrics_, wake);
  // The last run's figures, read from the store at each scrape.
  for (size_t i = 0; i < kFindingKindCount; ++i) {
    const std::string kind = kFindingKinds[i];
    metrics_.AddGauge("crmsync_reconcile_findings", "Findings of the last reconcile run, by kind.",
                      {{"kind", kind}}, [this, kind] {
                        return static_cast<double>(reconciler_->LastCount(kind));
                      });
  }
  metrics_.AddGauge("crmsync_reconcile_running", "1 while a reconcile run is unfinished.", {},
                    [this] { return reconciler_->Running() ? 1.0 : 0.0; });
  metrics_.AddCounterFunc("crmsync_reconcile_crm_calls_total",
                          "CRM calls reconcile made since the service started.", {},
                          [this] { return static_cast<double>(reconciler_->CrmCalls()); });
  metrics_.AddGauge("crmsync_resync_running", "1 while a resync run is unfinished.", {},
                    [this] { return resyncer_->Running() ? 1.0 : 0.0; });
  return true;
}

bool Service::SetUpPolling(const config::Settings& settings, std::string* error) {
  bool poll = false;
  if (!DecidePolling(settings.GetString("inbound.poll"), plugin_->info().capabilities,
                     plugin_name_, &poll, error)) {
    return false;
  }
  if (!poll || !crm_enabled_) return true;
  PollerOptions options;
  options.plugin = plugin_name_;
  options.interval_ms = settings.GetInt("inbound.poll_interval_ms");
  // Engines sharing a store take turns through a lease in it; a holder that
  // stopped is replaced within three intervals, from the cursor it saved.
  options.owner = Poco::Environment::nodeName() + "/" + std::to_string(getpid()) + "/" +
                  std::to_string(clock_->NowMs());
  options.lease_ms = 3 * options.interval_ms;
  options.secrets = settings.SecretValues();
  options.paused = [this] { return !dispatcher_->sync_enabled(); };
  poller_ = std::make_unique<Poller>(options, &plugin_->adapter(), store_.state.get(),
                                     store_.state.get(), &dispatcher_->limiter(), clock_, &metrics_);
  poller_->OnRecorded([this] { inbound_->Wake(); });
  for (size_t i = 0; i < options.entities.size(); ++i) {
    metrics_.AddGauge("crmsync_poll_last_success_seconds",
                      "When change polling last read a page, Unix seconds; 0: not since start.",
                      {{"entity", EntityKindName(options.entities[i])}}, [this, i] {
                        return static_cast<double>(poller_->Status().entities[i].last_success_ms) /
                               1000.0;
                      });
  }
  ComponentLogger("poll").information("polling %s for changes every %s ms", plugin_name_,
                                      std::to_string(options.interval_ms));
  return true;
}

bool Service::SetUpInbound(const config::Settings& settings, std::string* error) {
  std::vector<std::string> secrets = settings.GetList("webhook.secrets");
  secrets.insert(secrets.begin(), settings.GetString("crm.webhook.secret"));
  if (!ParseWebhookSecrets(secrets, &webhook_secrets_, error)) return false;
  webhook_tolerance_s_ = settings.GetInt("webhook.tolerance_s");
  if (webhook_secrets_.empty()) {
    ComponentLogger("webhook").warning(
        "no webhook secret configured (CRM_WEBHOOK_SECRET, webhook.secrets): every webhook is "
        "refused unless the plugin verifies it with a scheme of its own");
  }
  InboundRules rules;
  for (const std::string& field : settings.GetList("inbound.platform_fields")) {
    rules.platform_fields.insert(field);
  }
  const std::string owns = settings.GetString("inbound.crm_owns_status_from");
  if (owns == "never") {
    rules.crm_owns_status_from = LeadStatus::kLost;  // never reached from below: see below
    rules.platform_fields.insert("status");
  } else if (owns != "always") {
    LeadStatus status;
    ParseLeadStatus(owns, &status);
    rules.crm_owns_status_from = status;
  }
  RetryPolicy policy(settings.GetInt("crm.retry.delay"),
                     static_cast<int>(settings.GetInt("crm.retry.attempts")),
                     settings.GetBool("crm.retry.jitter"));
  const std::string callback_url = settings.GetString("inbound.callback_url");
  rules.queue_callbacks = !callback_url.empty();
  inbound_ = std::make_unique<InboundWorker>(store_.state.get(), rules, agents_.get(), clock_, &metrics_);
  // Fetches of notification-only changes are CRM requests: they share the
  // dispatcher's rate budget.
  inbound_->FetchWith(&plugin_->adapter(), &dispatcher_->limiter());
  webhook_public_url_ = settings.GetString("crm.webhook.url");
  if (!callback_url.empty()) {
    callbacks_ = CallbackSender::Create(callback_url, settings.GetBool("crm.allow_insecure_http"),
                                        store_.state.get(), policy, clock_, &metrics_, error);
    if (!callbacks_) return false;
    inbound_->OnChange([this] { callbacks_->Wake(); });
  }
  const std::string webhook_url = settings.GetString("crm.webhook.url");
  if (!webhook_url.empty() && plugin_->info().capabilities.webhook_registration) {
    WebhookRegistration registration;
    registration.url = webhook_url;
    registration.events = settings.GetList("crm.webhook.events");
    registration.secret = settings.GetString("crm.webhook.secret");
    registrar_ = std::make_unique<WebhookRegistrar>(store_.state.get(), &plugin_->adapter(),
                                                    plugin_name_, registration, policy, clock_,
                                                    &metrics_);
  }
  return true;
}

void Service::BuildRoutes(Router* router) {
  AddHealthRoutes(*router, [this] { return Readiness(); }, admin_token_);
  IntakeContext intake;
  intake.store = store_.state.get();
  intake.clock = clock_;
  intake.metrics = &metrics_;
  intake.token = intake_token_;
  intake.shutting_down = &shutting_down_;
  intake.on_accepted = [this] { dispatcher_->Wake(); };
  AddIntakeRoutes(*router, intake);
  WebhookContext webhook;
  webhook.store = store_.state.get();
  webhook.adapter = &plugin_->adapter();
  webhook.plugin = plugin_name_;
  webhook.clock = clock_;
  webhook.metrics = &metrics_;
  webhook.secrets = webhook_secrets_;
  webhook.tolerance_s = webhook_tolerance_s_;
  webhook.public_url = webhook_public_url_;
  webhook.shutting_down = &shutting_down_;
  webhook.on_recorded = [this] { inbound_->Wake(); };
  AddWebhookRoutes(*router, webhook);
  AddChangeFeedRoutes(*router, store_.state.get(), intake_token_);
  AdminHooks admin;
  admin.sync_states = store_.state.get();
  admin.inspection = store_.state.get();
  admin.dead_letters = store_.state.get();
  admin.plugin_name = plugin_name_;
  admin.admin_token = admin_token_;
  admin.clock = clock_;
  admin.on_sync_changed = [this] { dispatcher_->ReloadSyncState(); };
  admin.runtime_status = [this] { return CurrentRuntimeStatus(); };
  AddAdminRoutes(*router, admin);
  router->Add("GET", "/metrics", [this](HttpContext& ctx) {
    ctx.SendText(200, metrics_.RenderPrometheus(), "text/plain; version=0.0.4; charset=utf-8");
  });
  // What the CRM plugin holds (mock-crm: its whole in-memory CRM), for ops and newcomers.
  router->Add("GET", std::string(kApiV1) + "admin/crm/dump", [this](HttpContext& ctx) {
    if (!ctx.RequireBearer(admin_token_)) return;
    ctx.SendJson(200, plugin_->adapter().Dump());
  });
  AddLegacyApiAliases(router);
  // Backfill routes, after the aliases: new with v1, so no unversioned alias.
  BackfillApiContext backfill;
  backfill.runs = backfill_.get();
  backfill.stats = [this] { return CachedStats(); };
  backfill.admin_token = admin_token_;
  backfill.shutting_down = &shutting_down_;
  AddBackfillRoutes(*router, backfill);
  // Reconcile and resync (issue 18), after the aliases: new with v1.
  AddReconcileRoutes(*router, reconciler_.get(), resyncer_.get(), admin_token_);
  // Shadow mode's routes are new with v1: no unversioned alias.
  AddShadowRoutes(*router, shadow_.get(), admin_token_);
  // After the aliases: the document is new with v1 and has no unversioned path.
  AddOpenApiRoute(*router);
}

void Service::AddLegacyApiAliases(Router* router) {
  // The unversioned /api/ paths of before v1 answer as before for one release;
  // their answers say they are deprecated and name the v1 path, each route's
  // first use is logged, and every use counted, so ops see who still calls them.
  struct Seen {
    std::mutex mu;
    std::set<std::string> routes;
  };
  auto seen = std::make_shared<Seen>();
  DeprecationInfo info;
  info.deprecation = kLegacyApiDeprecation;
  info.on_use = [this, seen](const std::string& method, const std::string& path) {
    metrics_
        .GetCounter("crmsync_http_deprecated_requests_total",
                    "Requests to the deprecated unversioned /api/ paths (use /api/v1/), by route.",
                    {{"method", method}, {"path", path}})
        .Inc();
    {
      std::lock_guard<std::mutex> lock(seen->mu);
      if (!seen->routes.insert(method + " " + path).second) return;
    }
    ComponentLogger("http").warning(
        "%s %s is deprecated: use %s%s; the unversioned /api/ paths go in the next release",
        method, path, std::string(kApiV1), path.substr(std::string(kLegacyApi).size()));
  };
  router->AddDeprecatedAliases(kApiV1, kLegacyApi, std::move(info));
}

std::vector<ReadyCheck> Service::Readiness() {
  // Public details name no path and quote no store error (SQLite's name the
  // file); the admin token gets both (http/health.h).
  std::vector<ReadyCheck> checks;
  std::string why;
  bool store_ok = store_.Check(&why);
  if (!store_ok) {
    checks.push_back({"store", false, "cannot read", "cannot read: " + why});
  } else if (!write_probe_->Check(&why)) {
    checks.push_back({"store", false, "cannot write", "cannot write: " + why});
  } else {
    checks.push_back({"store", true, "reads and writes", store_.Describe()});
  }
  const PluginDescriptorInfo& plugin = plugin_->descriptor();
  checks.push_back({"plugin", true, plugin.name + " " + plugin.version,
                    plugin.name + " " + plugin.version + " (" + plugin.file + ")"});
  if (!crm_enabled_) {
    checks.push_back({"sync", false, "disabled by configuration (crm.enabled=false)", ""});
  } else if (store_ok) {
    SyncState state = store_.state->GetSyncState(plugin_name_);
    checks.push_back({"sync", state.enabled,
                      state.enabled ? "enabled" : "disabled since " + state.changed_at + ": " +
                                                       state.reason,
                      ""});
  } else {
    checks.push_back({"sync", false, "unknown: the store cannot be read", ""});
  }
  return checks;
}

void Service::Start() {
  RegisterQueueGauges();
  AddProcessMetrics(&metrics_);
  AddBuildInfo(&metrics_, CurrentBuildInfo());
  if (shadow_) shadow_->Start();
  dispatcher_->Start();
  // An unfinished reconcile or resync run continues where it stopped.
  reconciler_->Start();
  resyncer_->Start();
  inbound_->Start();
  if (poller_) poller_->Start();
  if (callbacks_) callbacks_->Start();
  if (registrar_) registrar_->Start();
  alerts_->Start();
  monitor_->Start();
  server_->Start();
  ComponentLogger("http").information("listening on %s://%s:%d", std::string(server_->scheme()),
                                      server_->host(), server_->port());
}

bool Service::Stop() {
  if (stopped_) return true;
  stopped_ = true;
  shutting_down_ = true;
  if (monitor_) monitor_->Stop();
  // Before the inbound worker: the page in hand is recorded, and applied below.
  if (poller_) poller_->Stop();
  // Between two pages or calls: the runs resume at the next start.
  if (reconciler_) reconciler_->Stop();
  if (resyncer_) resyncer_->Stop();
  bool clean = dispatcher_ ? dispatcher_->Stop(shutdown_deadline_ms_) : true;
  // After the workers, which offer it jobs: its summary is saved.
  if (shadow_) shadow_->Stop();
  if (registrar_) registrar_->Stop();
  if (server_) server_->Stop();
  // After the server: no new delivery arrives, and the ones recorded are applied.
  if (inbound_) inbound_->Stop();
  if (callbacks_) callbacks_->Stop();
  if (alerts_) alerts_->Stop();
  return clean;
}

void Service::RegisterQueueGauges() {
  // One store read serves every gauge of a scrape.
  auto stat = [this](auto read) {
    return [this, read] { return static_cast<double>(read(CachedStats())); };
  };
  const char* kJobs = "Jobs by state.";
  for (auto [state, field] : {std::pair{"ready", &QueueStats::ready}, std::pair{"queued", &QueueStats::queued},
                              std::pair{"delayed", &QueueStats::delayed},
                              std::pair{"leased", &QueueStats::leased}}) {
    metrics_.AddGauge("crmsync_queue_jobs", kJobs, {{"state", state}},
                      stat([field = field](const QueueStats& s) { return s.*field; }));
  }
  for (int p = 0; p < kPriorityCount; ++p) {
    metrics_.AddGauge("crmsync_queue_ready_jobs", "Ready jobs by priority.",
                      {{"priority", PriorityName(static_cast<Priority>(p))}},
                      stat([p](const QueueStats& s) { return s.ready_by_priority[p]; }));
  }
  metrics_.AddGauge("crmsync_queue_oldest_pending_age_seconds",
                    "Age of the oldest job not yet finished; 0 when none.", {}, [this] {
                      int64_t oldest = CachedStats().oldest_pending_created_ms;
                      return oldest == 0 ? 0.0 : static_cast<double>(clock_->NowMs() - oldest) / 1000.0;
                    });
  metrics_.AddGauge("crmsync_dead_letters", "Dead letters not replayed or purged.", {},
                    stat([](const QueueStats& s) { return s.dead; }));
  metrics_.AddCounterFunc("crmsync_coalesced_total",
                          "Events absorbed into a pending job of the same entity.", {},
                          stat([](const QueueStats& s) { return s.coalesced_total; }));
  metrics_.AddCounterFunc("crmsync_echo_suppressed_total", "Echoes recognised and not synced.",
                          {{"direction", "outbound"}},
                          stat([](const QueueStats& s) { return s.echo_suppressed_outbound; }));
  metrics_.AddCounterFunc("crmsync_echo_suppressed_total", "Echoes recognised and not synced.",
                          {{"direction", "inbound"}},
                          stat([](const QueueStats& s) { return s.echo_suppressed_inbound; }));
  metrics_.AddGauge("crmsync_webhook_deliveries_pending", "Webhooks received, not yet applied.",
                    {}, stat([](const QueueStats& s) { return s.deliveries_pending; }));
}

QueueStats Service::CachedStats() {
  std::lock_guard<std::mutex> lock(stats_mu_);
  auto now = std::chrono::steady_clock::now();
  if (now - stats_read_at_ > std::chrono::milliseconds(500)) {
    stats_ = store_.state->Stats();
    stats_read_at_ = now;
  }
  return stats_;
}

int Service::port() const { return server_->port(); }
const std::string& Service::host() const { return server_->host(); }
const char* Service::scheme() const { return server_->scheme(); }

}  // namespace crmsync::engine
