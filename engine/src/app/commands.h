// app/commands.h: the `crmsync` subcommands, each a function from settings to
// an exit code, writing its report to the given streams.
//
// Called once from main's thread.
#ifndef CRMSYNC_ENGINE_APP_COMMANDS_H_
#define CRMSYNC_ENGINE_APP_COMMANDS_H_

#include <ostream>
#include <vector>

#include "config/settings.h"

namespace crmsync::engine {

/// Exit codes (sysexits-style where one fits).
constexpr int kExitOk = 0;
constexpr int kExitProblems = 1;   ///< check-config found problems; a plugin file unusable.
constexpr int kExitUsage = 64;     ///< Bad command line.
constexpr int kExitConfig = 78;    ///< Start-up refused: bad config, store or plugin.
constexpr int kExitSoftware = 70;  ///< Unexpected failure.

/// check-config: the effective configuration with its sources (secrets
/// redacted), then every problem, one per line, with their count: settings
/// errors and warnings, then (when the settings load) every check `serve`
/// makes before listening (app/start_checks.h): development tokens off
/// loopback, the store folder writable, the plugin loaded and configured
/// (its PluginHost reads the existing store and saves nothing:
/// app/plugin_hosts.h), the inbound and alert URLs. Non-zero on any error.
/// `json`: one JSON object {"file","settings":[{key,value,source}],
/// "problems":[{level,message}],"errors","warnings"} instead of text.
int RunCheckConfig(const config::Settings& settings,
                   const std::vector<config::Diagnostic>& diagnostics, std::ostream& out,
                   bool json = false);

/// plugins: every file in plugins.dir with name, version, ABI and capabilities,
/// or why it cannot be used (each bad file named with its cause; the listing
/// goes on past it). A file is usable when `serve` with crm.plugin = its file
/// name would load it. Exit kExitOk when every file is usable, kExitProblems
/// when any is not or plugins.dir cannot be read.
/// `json`: {"dir","plugins":[{file,ok,name,version,abi,capabilities,error}]}.
int RunPlugins(const config::Settings& settings, std::ostream& out, bool json = false);

/// crm-dump: asks the running service (server.host:server.port, admin.token)
/// for what the CRM plugin holds and prints it.
int RunCrmDump(const config::Settings& settings, std::ostream& out, std::ostream& err);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_APP_COMMANDS_H_
