// app/start_checks.h: every check `serve` makes before it listens, in one
// function, so `check-config` runs exactly the same ones (they cannot drift).
//
// The checks: settings that must not leave loopback (config/exposure.h); the
// store's folder is writable (SQLite: a file is really created there, since
// root passes every permission bit); the webhook secrets, the agent map,
// inbound.callback_url and alerts.webhook_url are accepted by the very
// functions the service builds them with; an existing SQLite store is one this
// build opens (read only: not migrated); server.host:server.port can be bound
// (bound and released at once; in use is a warning); last, the plugin loads,
// is attached to its PluginHost (app/plugin_hosts.h), accepts its
// configuration and names its budget headers well; then shadow mode's plugin
// (crm.shadow.*, shadow/shadow_plugin.h) loads and accepts its own. Migrating the store and
// connecting to PostgreSQL or Redis are left to `serve`, whose
// PluginHostSource does both just before the plugin is configured.
//
// Called from one thread (start-up, check-config).
#ifndef CRMSYNC_ENGINE_APP_START_CHECKS_H_
#define CRMSYNC_ENGINE_APP_START_CHECKS_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/settings.h"
#include "http/tls.h"
#include "crmsync/rate_limit.h"
#include "plugin_host/plugin_loader.h"
#include "shadow/shadow_plugin.h"

namespace crmsync::engine {

struct StartCheckReport {
  /// One entry per problem (errors and warnings), each a single line naming
  /// the setting and the reason, never a secret.
  std::vector<config::Diagnostic> problems;
  /// Checks that passed worth saying ("plugin mock-crm 1.0.0 loads and accepts
  /// its configuration").
  std::vector<std::string> passed;
  /// The plugin, loaded and configured, when that passed; `serve` keeps it.
  std::unique_ptr<LoadedPlugin> plugin;
  /// Shadow mode's plugin (crm.shadow.*), loaded and configured; null when
  /// shadow mode is off or that check failed.
  std::unique_ptr<ShadowPlugin> shadow;
  /// The plugin's budget headers, when it named them well.
  std::vector<RateLimitHeaders> budget_headers;
  /// The listener's TLS context (server.tls.cert and .key read, parsed and
  /// matched), null for plain HTTP or when that check failed.
  std::shared_ptr<TlsContext> tls;

  bool HasErrors() const;
  /// Every error, one per line.
  std::string ErrorText() const;
};

/// Where the plugin's PluginHost comes from: it is attached (Adapter::Attach)
/// before Configure(), which may already load state.
struct PluginHostSource {
  /// The host (it outlives the plugin), or nullptr with `*error` naming the
  /// store and the reason; then the plugin is not configured.
  std::function<PluginHost*(std::string* error)> open;
  /// Opening creates and migrates the store (serve's): it happens, and the
  /// plugin is configured, only when every other check passed.
  bool creates_store = false;
};

/// Runs every start check on `settings` (loaded without errors); the plugin
/// check last, with the host `host` opens.
StartCheckReport RunStartChecks(const config::Settings& settings, const PluginHostSource& host);

/// The SQLite store check alone. kError with `*why` naming the folder and the
/// system's reason when this process cannot create files in store.path's
/// folder, or cannot open an existing store file for writing. When the folder
/// is still to be created (serve creates it), its nearest existing ancestor is
/// tried instead; refused there for permission only, the verdict is kWarning,
/// since another user may create it first (systemd's StateDirectory= does).
enum class StoreProbe { kOk, kWarning, kError };
StoreProbe ProbeStoreWritable(const std::string& path, std::string* why);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_APP_START_CHECKS_H_
