// app/live_commands.h: the commands that try the configured CRM plugin
// without running the service: `check-connection` (one read-only call to the
// CRM, naming the stage that failed) and `render` (the requests an event
// would become, built with no network).
//
// Called once from main's thread.
#ifndef CRMSYNC_ENGINE_APP_LIVE_COMMANDS_H_
#define CRMSYNC_ENGINE_APP_LIVE_COMMANDS_H_

#include <ostream>
#include <string>

#include "config/settings.h"

namespace crmsync::engine {

/// check-connection: loads and configures crm.plugin as `serve` does, its
/// PluginHost saving to the configured store (a token the CRM rotates during
/// the check is kept; app/plugin_hosts.h), then sends its lookup by
/// reference for a reference no record has (conformance/connection_check.h). Prints "ok: ..." or "FAILED (<stage>):
/// ..."; `json`: {"plugin","version","ok","stage","message","method","url",
/// "httpStatus","exitCode"}. Returns 0 when the CRM answered and the answer was
/// read, ConnectionExitCode(stage) otherwise, kExitConfig when the plugin does
/// not load or refuses its settings.
int RunCheckConnection(const config::Settings& settings, std::ostream& out, std::ostream& err,
                       bool json);

/// render EVENT.json: validates the file with the intake's validator
/// (intake/event_validator.h) and prints every problem when it is invalid
/// (kExitProblems). Otherwise, for each event, builds the job intake would for
/// an entity seen the first time (no CRM link), and prints the plugin's Plan
/// and, per step, the request BuildRequest makes: method, URL (crm.api.url +
/// path), headers and body, secrets and personal data masked
/// (crmsync/redact.h). Sends nothing; the plugin's PluginHost reads the
/// store and saves nothing (app/plugin_hosts.h). `json`: {"plugin","events":[{"eventId",
/// "type","steps":[{"step","method","url","headers":[{name,value}],"body"}]}]}.
int RunRender(const config::Settings& settings, const std::string& event_file, std::ostream& out,
              std::ostream& err, bool json);

/// The id later steps of a rendered plan use where the CRM's id from the
/// create would go.
extern const char kRenderExternalId[];

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_APP_LIVE_COMMANDS_H_
