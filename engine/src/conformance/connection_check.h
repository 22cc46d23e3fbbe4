// conformance/connection_check.h: one read-only call to the configured CRM
// through a configured plugin, and the name of the stage that failed.
//
// Used by `crmsync check-connection` and `crmsync plugin-check --live`. The
// probe is the plugin's own lookup by reference (Mapper::BuildLookup, then
// ReadLookup), for a reference no platform record has: the SDK has no
// dedicated "check" call, and adding a virtual to the Mapper would be an ABI
// major change (crmsync/version.h) that every plugin must be rebuilt for, while
// a lookup is read-only, authenticated and exercises the mapping's pointers.
// A plugin without lookup_by_reference cannot be probed without writing, so
// the check says so instead of sending anything.
//
// Runs on the calling thread; sends at most one request.
#ifndef CRMSYNC_ENGINE_CONFORMANCE_CONNECTION_CHECK_H_
#define CRMSYNC_ENGINE_CONFORMANCE_CONNECTION_CHECK_H_

#include <string>

#include "crmsync/adapter.h"
#include "plugin_host/guarded_adapter.h"

namespace crmsync::engine::conformance {

/// The stage that failed, stable names for scripts and JSON.
enum class ConnectionStage {
  kOk,           ///< "ok": authenticated, and the lookup answer was read.
  kDns,          ///< "dns": the host name did not resolve.
  kConnect,      ///< "connect": TCP refused or unreachable.
  kTimeout,      ///< "timeout": connect or answer timed out.
  kTls,          ///< "tls": TLS handshake or certificate refused.
  kIo,           ///< "io": the connection broke mid-request.
  kCredentials,  ///< "credentials": 401 or 403.
  kNotFound,     ///< "not_found": 404 on the lookup's path.
  kServerError,  ///< "server_error": 5xx.
  kHttpStatus,   ///< "http_status": any other non-2xx answer (429, 400, ...).
  kUnreadable,   ///< "unreadable": a 2xx the mapping's pointers cannot read.
  kNoLookup,     ///< "no_lookup": the plugin has no read-only call to probe with.
  kPlugin,       ///< "plugin": the plugin failed to build the probe.
};
/// The stage's stable name ("dns", "credentials", ...).
const char* ConnectionStageName(ConnectionStage stage) noexcept;
/// The exit code of `crmsync check-connection` for a stage: 0 for kOk, a
/// distinct non-zero code per failure (docs in the command's help).
int ConnectionExitCode(ConnectionStage stage) noexcept;

/// The reference the probe looks up: no platform record has it.
extern const char kProbeReference[];

struct ConnectionResult {
  ConnectionStage stage = ConnectionStage::kPlugin;
  /// One sentence naming what failed (or what was checked); no secret: URLs
  /// lose their query string and every text is masked (crmsync/redact.h).
  std::string message;
  std::string method;   ///< The probe's method, when one was built.
  std::string url;      ///< base_url + the probe's path, without the query.
  int http_status = 0;  ///< The CRM's answer, 0 when none came.
  bool ok() const { return stage == ConnectionStage::kOk; }
};

/// Sends the probe lookup through `adapter` (configured) and reads the
/// answer. `base_url` (the plugin's api_url, may be "") prefixes the path in
/// messages. Never throws.
ConnectionResult CheckConnection(GuardedAdapter& adapter, const Capabilities& capabilities,
                                 const std::string& base_url);

}  // namespace crmsync::engine::conformance

#endif  // CRMSYNC_ENGINE_CONFORMANCE_CONNECTION_CHECK_H_
