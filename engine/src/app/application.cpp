// The crmsync binary; see application.h.
#include "app/application.h"

#include <cstdlib>
#include <iostream>
#include <sstream>

#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionCallback.h>
#include <Poco/Util/OptionSet.h>

#include "app/admin_cli.h"
#include "app/backfill_cli.h"
#include "app/commands.h"
#include "app/live_commands.h"
#include "app/progress.h"
#include "app/reconcile_cli.h"
#include "app/service.h"
#include "common/logging.h"
#include "conformance/plugin_check.h"
#include "crmsync/version.h"

namespace crmsync::engine {

using Poco::Util::Option;
using Poco::Util::OptionCallback;

namespace {

const char* kCommandsHelpHead =
    "Commands:\n"
    "  serve          run the service (the default)\n"
    "  check-config [json]\n"
    "                 print the effective configuration (secrets redacted) and\n"
    "                 every problem; exits non-zero when there is any error\n"
    "  plugins [json]\n"
    "                 list the plugins in plugins.dir: name, version, ABI,\n"
    "                 capabilities, or why each bad file cannot be used; exits 1\n"
    "                 when there is one\n"
    "  plugin-check PLUGIN [json]\n"
    "                 run the conformance battery on a plugin (a name in\n"
    "                 plugins.dir or a file path) with its settings from\n"
    "                 --config/--set: PASS/FAIL per check; exits 1 when one\n"
    "                 fails; json prints a JSON report; --live also runs\n"
    "                 check-connection through the plugin\n"
    "  check-connection [json]\n"
    "                 load crm.plugin as serve does, send one read-only\n"
    "                 lookup to the CRM and name what failed. Exit 2 DNS,\n"
    "                 3 TCP connect, 4 timeout, 5 TLS, 6 credentials (401/403),\n"
    "                 7 404 on the path, 8 5xx, 9 answer the mapping cannot\n"
    "                 read, 10 other status, 11 connection broke, 12 plugin\n"
    "                 has no lookup, 13 plugin error, 78 plugin does not load\n"
    "  render EVENT.json [json]\n"
    "                 validate a platform event file (docs/events.md) and\n"
    "                 print the HTTP requests the plugin builds for it,\n"
    "                 secrets masked; sends nothing\n"
    "  crm-dump [json]\n"
    "                 print what the CRM plugin of the running service holds\n"
    "                 (mock-crm: its in-memory CRM); uses server.port, admin.token\n"
    "  backfill FILE.ndjson|- [--run ID] [--strict] [--no-wait]\n"
    "                 import existing records, one {\"lead\": {...}} or\n"
    "                 {\"property\": {...}} a line, through the running service\n"
    "                 as bulk jobs (behind live events); shows progress, then\n"
    "                 waits until they are synced. The same command resumes\n"
    "                 after a crash (stdin: give --run ID). A bad line is\n"
    "                 reported and skipped (exit 2); --strict stops at it\n";

const char* kCommandsHelpTail =
    "\n"
    "Configuration layers, later wins: built-in defaults,\n"
    "config/crmsync.properties (or --config FILE), environment (CRM_API_URL,\n"
    "CRM_API_KEY, ... and CRMSYNC_<KEY>), --set.\n";

// The commands' help, the admin commands (app/admin_cli.h) included.
std::string CommandsHelp() {
  return std::string(kCommandsHelpHead) + AdminCommandsHelp() + RunCommandsHelp() +
         kCommandsHelpTail;
}

// The help of one command: its entries in CommandsHelp() ("  dlq ..." and the
// indented lines under them). Empty when the command has none.
std::string CommandHelp(const std::string& command) {
  std::istringstream in(CommandsHelp());
  std::string line, out;
  bool inside = false;
  while (std::getline(in, line)) {
    bool entry = line.size() > 2 && line[0] == ' ' && line[1] == ' ' && line[2] != ' ';
    if (entry) {
      std::string name = line.substr(2, line.find(' ', 2) == std::string::npos
                                            ? std::string::npos
                                            : line.find(' ', 2) - 2);
      inside = name == command;
    } else if (line.rfind("                 ", 0) != 0) {
      inside = false;
    }
    if (inside) out += line + "\n";
  }
  return out;
}

// Poco's help formatter for the options table only (formatOptions is
// protected): given the usage, header and footer too, it re-wraps them at its
// own width, splitting our hand-wrapped command lines mid-sentence. The rest of
// the help is printed as written, wrapped under 80 columns in the source.
class OptionsTable : public Poco::Util::HelpFormatter {
 public:
  using HelpFormatter::HelpFormatter;
  void Print(std::ostream& out) const { formatOptions(out); }
};

}  // namespace

CrmsyncApplication::CrmsyncApplication() { setUnixOptions(true); }

void CrmsyncApplication::initialize(Poco::Util::Application& self) {
  // Configuration is ours (config/settings.h), not Poco's default file lookup.
  Poco::Util::ServerApplication::initialize(self);
}

void CrmsyncApplication::defineOptions(Poco::Util::OptionSet& options) {
  Poco::Util::ServerApplication::defineOptions(options);
  options.addOption(Option("help", "h", "print this help and exit")
                        .callback(OptionCallback<CrmsyncApplication>(
                            this, &CrmsyncApplication::HandleHelp)));
  options.addOption(Option("version", "V", "print the version and the SDK ABI, and exit")
                        .callback(OptionCallback<CrmsyncApplication>(
                            this, &CrmsyncApplication::HandleVersion)));
  options.addOption(Option("config", "c", "read settings from FILE instead of "
                                          "config/crmsync.properties")
                        .argument("FILE")
                        .callback(OptionCallback<CrmsyncApplication>(
                            this, &CrmsyncApplication::HandleConfig)));
  options.addOption(Option("set", "s", "set one key, overriding file and environment "
                                       "(repeatable)")
                        .argument("KEY=VALUE")
                        .repeatable(true)
                        .callback(OptionCallback<CrmsyncApplication>(
                            this, &CrmsyncApplication::HandleSet)));
  options.addOption(Option("live", "", "plugin-check: also check the connection to the CRM")
                        .callback(OptionCallback<CrmsyncApplication>(
                            this, &CrmsyncApplication::HandleLive)));
  // backfill's options (app/backfill_cli.h).
  options.addOption(Option("strict", "", "backfill: stop at the first bad line")
                        .callback(OptionCallback<CrmsyncApplication>(
                            this, &CrmsyncApplication::HandleBackfillOption)));
  options.addOption(Option("run", "", "backfill: the run's id (default: derived from the file; "
                                      "stdin needs one to resume)")
                        .argument("ID")
                        .callback(OptionCallback<CrmsyncApplication>(
                            this, &CrmsyncApplication::HandleBackfillOption)));
  // --no-wait: backfill, reconcile and resync return once their work is
  // handed over, without waiting for the CRM.
  options.addOption(Option("no-wait", "", "backfill, reconcile, resync: return once imported or "
                                          "queued, without waiting for the CRM")
                        .callback(OptionCallback<CrmsyncApplication>(
                            this, &CrmsyncApplication::HandleNoWait)));
  // reconcile and resync (app/reconcile_cli.h).
  options.addOption(Option("repair", "", "reconcile: queue the jobs that fix what the platform owns")
                        .callback(OptionCallback<CrmsyncApplication>(
                            this, &CrmsyncApplication::HandleRunFlag)));
  options.addOption(Option("all", "", "resync: every property, then every lead")
                        .callback(OptionCallback<CrmsyncApplication>(
                            this, &CrmsyncApplication::HandleRunFlag)));
}

void CrmsyncApplication::HandleBackfillOption(const std::string& name, const std::string& value) {
  backfill_option_given_ = true;
  if (name == "strict") backfill_strict_ = true;
  if (name == "run") backfill_run_ = value;
}

void CrmsyncApplication::HandleNoWait(const std::string&, const std::string&) {
  backfill_no_wait_ = true;
  run_flags_.no_wait = true;
}

void CrmsyncApplication::HandleLive(const std::string&, const std::string&) { live_ = true; }

void CrmsyncApplication::HandleRunFlag(const std::string& name, const std::string&) {
  if (name == "repair") run_flags_.repair = true;
  if (name == "all") run_flags_.all = true;
}

void CrmsyncApplication::HandleHelp(const std::string&, const std::string&) {
  help_requested_ = true;
  stopOptionsProcessing();
}

void CrmsyncApplication::HandleVersion(const std::string&, const std::string&) {
  version_requested_ = true;
  stopOptionsProcessing();
}

void CrmsyncApplication::HandleConfig(const std::string&, const std::string& value) {
  config_file_ = value;
}

void CrmsyncApplication::HandleSet(const std::string&, const std::string& value) {
  overrides_.push_back(value);
}

void CrmsyncApplication::PrintHelp() {
  std::cout << "usage: crmsync [COMMAND [ARGS]] [options]\n"
               "       crmsync --help COMMAND     the help of one command\n"
               "\n"
               "crmsync keeps a real-estate platform and a CRM in step, both ways.\n"
               "\n"
               "Options:\n";
  OptionsTable table(options());
  table.setUnixStyle(true);
  table.setIndent(30);  // the description column
  table.setWidth(77);
  std::ostringstream text;
  table.Print(text);
  // Indented like the commands, without the formatter's trailing blanks.
  std::istringstream lines(text.str());
  std::string line;
  while (std::getline(lines, line)) {
    line.erase(line.find_last_not_of(' ') + 1);
    std::cout << "  " << line << "\n";
  }
  std::cout << "\n" << CommandsHelp();
}

int CrmsyncApplication::main(const std::vector<std::string>& args) {
  if (help_requested_) {
    if (!args.empty()) {
      std::string help = CommandHelp(args[0]);
      if (help.empty()) {
        std::cerr << "crmsync: unknown command '" << args[0] << "'; see crmsync --help\n";
        return kExitUsage;
      }
      std::cout << "usage: crmsync " << args[0] << " ... [--config FILE] [--set KEY=VALUE]...\n"
                << help;
      return kExitOk;
    }
    PrintHelp();
    return kExitOk;
  }
  if (version_requested_) {
    std::cout << "crmsync " << CRMSYNC_VERSION << " (SDK ABI " << kAbiMajor << "." << kAbiMinor
              << ", " << CRMSYNC_COMPILER_ID << ")\n";
    return kExitOk;
  }
  std::string command = args.empty() ? "serve" : args[0];
  const bool json = args.size() == 2 && args[1] == "json" &&
                    (command == "check-config" || command == "plugins" || command == "crm-dump" ||
                     command == "check-connection");
  if (live_ && command != "plugin-check") {
    std::cerr << "crmsync: --live applies to plugin-check only; see crmsync --help\n";
    return kExitUsage;
  }
  if (backfill_option_given_ && command != "backfill") {
    std::cerr << "crmsync: --strict and --run apply to backfill only; see crmsync --help\n";
    return kExitUsage;
  }
  if ((run_flags_.repair || run_flags_.all) && !IsRunCommand(command)) {
    std::cerr << "crmsync: --repair and --all apply to reconcile and resync only; see crmsync "
                 "--help\n";
    return kExitUsage;
  }
  if (run_flags_.no_wait && command != "backfill" && !IsRunCommand(command)) {
    std::cerr << "crmsync: --no-wait applies to backfill, reconcile and resync only; see crmsync "
                 "--help\n";
    return kExitUsage;
  }
  if (args.size() > 1 && !json && !IsAdminCommand(command) && !IsRunCommand(command) &&
      command != "plugin-check" && command != "render" && command != "backfill") {
    std::cerr << "crmsync: unexpected argument '" << args[1] << "' after '" << command
              << "'; see crmsync --help\n";
    return kExitUsage;
  }
  config::LoadOptions load;
  load.config_file = config_file_;
  load.environment = config::ProcessEnvironment();
  load.overrides = overrides_;
  std::vector<config::Diagnostic> diagnostics;
  config::Settings settings = config::Settings::Load(load, &diagnostics);

  if (command == "check-config") return RunCheckConfig(settings, diagnostics, std::cout, json);

  bool has_error = false;
  for (const auto& d : diagnostics) {
    bool error = d.level == config::Diagnostic::Level::kError;
    has_error = has_error || error;
    std::cerr << "crmsync: " << (error ? "error: " : "warning: ") << d.message << "\n";
  }
  if (has_error) {
    std::cerr << "crmsync: configuration has errors; run 'crmsync check-config' for the full "
                 "report\n";
    return kExitConfig;
  }
  if (command == "plugins") return RunPlugins(settings, std::cout, json);
  if (command == "crm-dump") return RunCrmDump(settings, std::cout, std::cerr);
  if (command == "check-connection") return RunCheckConnection(settings, std::cout, std::cerr, json);
  if (command == "render") {
    const bool render_json = args.size() == 3 && args[2] == "json";
    if (args.size() < 2 || (args.size() == 3 && !render_json) || args.size() > 3) {
      std::cerr << "usage: crmsync render EVENT.json [json] [--config FILE] [--set KEY=VALUE]...\n";
      return kExitUsage;
    }
    return RunRender(settings, args[1], std::cout, std::cerr, render_json);
  }
  if (command == "plugin-check") {
    conformance::CheckOptions check;
    check.plugins_dir = ResolvePluginsDir(settings);
    check.config_for = [&settings](const std::string& name) {
      return settings.PluginConfigFor(name);
    };
    check.live = live_;
    return conformance::RunPluginCheckCommand(
        std::vector<std::string>(args.begin() + 1, args.end()), check, std::cout, std::cerr);
  }
  if (IsAdminCommand(command)) return RunAdminCommand(settings, args, std::cout, std::cerr);
  if (IsRunCommand(command)) {
    return RunRunCommand(settings, args, run_flags_, StderrIsTerminal(), std::cout, std::cerr);
  }
  if (command == "backfill") {
    if (args.size() != 2) {
      std::cerr << "usage: crmsync backfill FILE.ndjson|- [--run ID] [--strict] [--no-wait] "
                   "[--config FILE] [--set KEY=VALUE]...\n";
      return kExitUsage;
    }
    BackfillOptions backfill;
    backfill.file = args[1];
    backfill.run = backfill_run_;
    backfill.strict = backfill_strict_;
    backfill.wait = !backfill_no_wait_;
    return RunBackfill(settings, backfill, std::cin, std::cout, std::cerr);
  }
  if (command == "serve") return Serve(settings);
  std::cerr << "crmsync: unknown command '" << command << "'; see crmsync --help\n";
  return kExitUsage;
}

int CrmsyncApplication::Serve(const config::Settings& settings) {
  SetupLogging(settings.GetString("log.level"), settings.GetString("log.format"));
  Poco::Logger& log = ComponentLogger("app");
  std::string error;
  std::unique_ptr<Service> service = Service::Create(settings, &error);
  if (!service) {
    // One line per problem (the start checks may find several).
    std::istringstream lines(error);
    std::string line;
    while (std::getline(lines, line)) {
      log.critical("cannot start: %s", line);
      std::cerr << "crmsync: cannot start: " << line << "\n";
    }
    return kExitConfig;
  }
  try {
    service->Start();
  } catch (const std::exception& e) {
    log.critical("cannot start: %s", std::string(e.what()));
    std::cerr << "crmsync: cannot start: " << e.what() << "\n";
    return kExitConfig;
  }
  std::cout << "crmsync " << CRMSYNC_VERSION << " listening on " << service->scheme() << "://" << service->host() << ":"
            << service->port() << " (store " << service->DescribeStore() << ", plugin "
            << service->plugin().descriptor().name << ")" << std::endl;
  waitForTerminationRequest();
  log.information("termination requested; stopping");
  if (!service->Stop()) {
    // A worker is stuck in a CRM call past shutdown.deadline_ms; its lease was
    // released (in doubt), so exiting now loses nothing.
    log.warning("stopped with a CRM call still in flight");
    std::cout.flush();
    std::_Exit(kExitOk);
  }
  log.information("stopped");
  // Repeats still being counted (common/logging.h) get their summary line.
  Poco::Logger::root().getChannel()->close();
  return kExitOk;
}

}  // namespace crmsync::engine
