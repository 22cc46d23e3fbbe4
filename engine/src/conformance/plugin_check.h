// conformance/plugin_check.h: `crmsync plugin-check`, the conformance kit an
// adapter author runs before shipping a plugin (sdk/README.md).
//
// A fixed battery (report.h names the checks), each printed PASS / FAIL / SKIP
// with a reason:
//   loads                          descriptor read, then Poco::ClassLoader, as the engine does
//   ABI                            major equal, minor not newer, same C++ runtime
//   metadata complete              name, version, description; capabilities sane
//   configure refuses bad config   malformed settings -> invalid_config with a message
//   configure accepts given config the settings from --config / --set
//   maps every event type          battery.h, with no network
//   status table complete both ways
//   classification                 every outcome row of docs/design.md §4
//   webhook parse and verification
//   batch round trip               when max_batch_size > 1
//   no exception escapes           the guard caught nothing
// and with --live:
//   live connection                one read-only lookup to the configured CRM
//                                  (connection_check.h); FAIL names the stage
// A check that cannot run because an earlier one failed is SKIP.
//
// Runs on the calling thread; loads the plugin file several times (one fresh
// instance per malformed configuration, so Configure() is called once per
// instance as the SDK promises). Each instance is attached, before
// Configure(), to a PluginHost of its own in memory: a plugin under test
// keeps no state in any engine's store.
#ifndef CRMSYNC_ENGINE_CONFORMANCE_PLUGIN_CHECK_H_
#define CRMSYNC_ENGINE_CONFORMANCE_PLUGIN_CHECK_H_

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "conformance/report.h"
#include "crmsync/plugin_config.h"

namespace crmsync::engine::conformance {

struct CheckOptions {
  /// A plugin name (looked up in plugins_dir, as crm.plugin is) or a path to a
  /// plugin file (anything containing '/').
  std::string target;
  /// The plugin folder for a name.
  std::string plugins_dir;
  /// The settings the plugin is given, by plugin name (the engine's
  /// Settings::PluginConfigFor); an empty PluginConfig when unset.
  std::function<PluginConfig(const std::string& plugin_name)> config_for;
  /// Also run the live connection check (sends one lookup to the CRM).
  bool live = false;
};

/// Runs the whole battery. Never throws; every problem is in the report.
Report RunPluginCheck(const CheckOptions& options);

/// The command: args are the words after `plugin-check`: <plugin> [json]
/// [--live] (--live sets options.live, as the binary's --live option does).
/// Prints the report (text, or JSON with `json`) to `out`; usage errors to
/// `err`. Returns 0 when every check passed (or was skipped), 1 when one
/// failed, 64 on a usage error.
int RunPluginCheckCommand(const std::vector<std::string>& args, CheckOptions options,
                          std::ostream& out, std::ostream& err);

}  // namespace crmsync::engine::conformance

#endif  // CRMSYNC_ENGINE_CONFORMANCE_PLUGIN_CHECK_H_
