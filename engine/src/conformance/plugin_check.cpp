// `crmsync plugin-check`; see plugin_check.h.
#include "conformance/plugin_check.h"

#include <cmath>
#include <exception>
#include <memory>
#include <set>

#include <Poco/Path.h>

#include "common/clock.h"
#include "conformance/battery.h"
#include "conformance/connection_check.h"
#include "crmsync/plugin.h"
#include "crmsync/version.h"
#include "plugin_host/plugin_loader.h"
#include "plugin_host/store_plugin_host.h"
#include "store/memory_plugin_states.h"

namespace crmsync::engine::conformance {
namespace {

constexpr char kNotLoaded[] = "not run: the plugin did not load";
constexpr char kNotConfigured[] =
    "not run: configure() refused the given config (give the plugin's settings with --config "
    "FILE or --set crm.<plugin>.<key>=VALUE)";

// The keys the engine fills itself (crmsync/plugin_config.h); any other key of
// a plugin's config is its own.
const std::set<std::string>& WellKnownKeys() {
  static const std::set<std::string> keys = {
      "api_url",        "api_key", "api_secret", "timeout_ms",          "webhook_url",
      "webhook_secret", "webhook_secrets", "mapping", "config_dir", "allow_insecure_http",
      "ca_file"};
  return keys;
}

// A value no setting accepts: for a path it names a folder that does not exist.
constexpr char kMalformed[] = "/nonexistent-crmsync-conformance/<not a valid value>";

struct Trial {
  std::string label;
  PluginConfig config;
};

// The PluginHost a plugin under test is attached to: in memory, gone with the
// check (plugin-check has no engine store), with the engine's key and size
// rules (plugin_host/store_plugin_host.h).
struct MemoryHost {
  explicit MemoryHost(const std::string& plugin)
      : host(plugin, &states, &SystemClock::Instance()) {}
  MemoryPluginStates states;
  StorePluginHost host;
};

// The malformed configurations tried, each on a fresh instance.
std::vector<Trial> BadConfigs(const PluginConfig& given) {
  std::vector<Trial> trials;
  trials.push_back(Trial{"empty settings", PluginConfig()});
  auto with = [&](const std::string& key, const std::string& value) {
    PluginConfig config = given;
    config.Set(key, value);
    trials.push_back(Trial{key + "='" + value + "'", config});
  };
  with("timeout_ms", "soon");
  with("allow_insecure_http", "perhaps");
  with("api_url", "not a url");
  if (given.Has("mapping")) with("mapping", kMalformed);
  if (given.Has("ca_file")) with("ca_file", kMalformed);
  for (const auto& [key, value] : given.values()) {
    if (WellKnownKeys().count(key) == 0) with(key, kMalformed);
  }
  return trials;
}

std::string FileName(const std::string& path) { return Poco::Path(path).getFileName(); }

std::string CapabilitiesText(const Capabilities& c) {
  std::string out = "batch=" + std::to_string(c.max_batch_size);
  out += c.lookup_by_reference ? " lookup" : " no-lookup";
  if (c.webhook_registration) out += " webhook-registration";
  return out;
}

// "configure refuses bad config": each malformed configuration on its own
// instance. Adds the instances' caught exceptions to `thrown`.
CheckResult CheckRefusesBadConfig(const std::string& path, const PluginConfig& given,
                                  std::vector<std::string>* thrown, int64_t* exceptions) {
  Problems problems;
  std::vector<std::string> refused;
  std::vector<std::string> accepted;
  for (const Trial& trial : BadConfigs(given)) {
    std::string error;
    MemoryHost host(FileName(path));
    std::unique_ptr<LoadedPlugin> instance = LoadedPlugin::LoadFile(path, &error);
    if (!instance) {
      problems.Add("cannot load a fresh instance: " + error);
      break;
    }
    Status s = instance->adapter().Attach(&host.host);
    if (s.ok()) s = instance->adapter().Configure(trial.config);
    *exceptions += instance->adapter().exceptions();
    if (s.ok()) {
      accepted.push_back(trial.label);
    } else if (s.code() == StatusCode::kInternal &&
               s.message().find(" threw in ") != std::string::npos) {
      thrown->push_back(s.message());
      problems.Add(trial.label + ": threw instead of answering invalid_config (" + s.message() +
                   ")");
    } else if (s.code() != StatusCode::kInvalidConfig) {
      problems.Add(trial.label + ": refused with " + StatusCodeName(s.code()) +
                   ", expected invalid_config");
    } else if (s.message().empty()) {
      problems.Add(trial.label + ": refused without a message");
    } else if (refused.size() < 2) {
      // The first problem only: a check's reason is one line per item.
      const std::vector<std::string> lines = SplitProblems(s.message());
      std::string first = lines.empty() ? s.message() : lines[0];
      if (lines.size() > 1) first += " (and " + std::to_string(lines.size() - 1) + " more)";
      refused.push_back(trial.label + " -> \"" + first + "\"");
    } else {
      refused.push_back(trial.label);
    }
  }
  if (!problems.empty()) {
    return CheckResult{kCheckRefusesBadConfig, Verdict::kFail, problems.Summary(3)};
  }
  if (refused.empty()) {
    std::string list;
    for (const std::string& label : accepted) list += (list.empty() ? "" : ", ") + label;
    return CheckResult{kCheckRefusesBadConfig, Verdict::kFail,
                       "accepted every malformed config tried (" + list +
                           "); configure() must answer invalid_config with a message naming the "
                           "key"};
  }
  std::string list;
  for (const std::string& item : refused) list += (list.empty() ? "" : "; ") + item;
  return CheckResult{kCheckRefusesBadConfig, Verdict::kPass,
                     "refused " + std::to_string(refused.size()) + " of " +
                         std::to_string(refused.size() + accepted.size()) +
                         " malformed configs with a message: " + list};
}

CheckResult CheckMetadata(const PluginDescriptorInfo& d, const PluginInfo& before,
                          const PluginInfo& after) {
  Problems problems;
  if (after.name.empty()) problems.Add("Info().name is empty");
  if (after.name != d.name) {
    problems.Add("Info().name '" + after.name + "' differs from the descriptor's '" + d.name + "'");
  }
  if (before.name != after.name) problems.Add("Info().name changes after Configure()");
  if (after.version.empty()) problems.Add("Info().version is empty");
  if (d.version.empty()) problems.Add("the descriptor's version is empty");
  if (!after.version.empty() && after.version != d.version) {
    problems.Add("Info().version '" + after.version + "' differs from the descriptor's '" +
                 d.version + "'");
  }
  if (after.description.empty()) problems.Add("Info().description is empty");
  const Capabilities& c = after.capabilities;
  if (c.max_batch_size < 1) problems.Add("capabilities.max_batch_size is 0 (at least 1)");
  if (!std::isfinite(c.max_requests_per_second) || c.max_requests_per_second < 0) {
    problems.Add("capabilities.max_requests_per_second is not a number >= 0");
  }
  if (!problems.empty()) return CheckResult{kCheckMetadata, Verdict::kFail, problems.Summary(4)};
  return CheckResult{
      kCheckMetadata, Verdict::kPass,
      after.name + " " + after.version + " \"" + after.description + "\"; " + CapabilitiesText(c)};
}

void SkipFrom(Report* report, size_t first, const std::string& reason) {
  const std::vector<std::string>& names = AllCheckNames();
  for (size_t i = first; i < names.size(); ++i) report->Set(names[i], Verdict::kSkip, reason);
}

size_t IndexOf(const char* name) {
  const std::vector<std::string>& names = AllCheckNames();
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return i;
  }
  return names.size();
}

Report Run(const CheckOptions& options) {
  Report report;
  report.target = options.target;
  for (const std::string& name : AllCheckNames()) report.Set(name, Verdict::kSkip, kNotLoaded);
  if (options.live) report.Set(kCheckLive, Verdict::kSkip, kNotLoaded);

  const bool by_path = options.target.find('/') != std::string::npos;
  std::string path = options.target;
  if (!by_path) {
    path = Poco::Path(options.plugins_dir.empty() ? "." : options.plugins_dir)
               .makeDirectory()
               .setFileName(options.target)
               .toString();
  }
  report.file = path;

  // Phase one, as the engine: the plain descriptor, before any C++.
  PluginDescriptorInfo d;
  std::string error;
  bool descriptor_ok = ReadPluginDescriptor(path, &d, &error);
  bool descriptor_read = descriptor_ok || d.abi_major != 0 || !d.abi_tag.empty() || !d.name.empty();
  if (!descriptor_read) {
    report.Set(kCheckLoads, Verdict::kFail, error);
    return report;
  }
  report.plugin_name = d.name;
  report.plugin_version = d.version;

  Problems abi;
  const std::string found = std::to_string(d.abi_major) + "." + std::to_string(d.abi_minor);
  const std::string engine = std::to_string(kAbiMajor) + "." + std::to_string(kAbiMinor);
  if (d.abi_major != kAbiMajor) {
    abi.Add("built for ABI " + found + ", the engine is ABI " + engine +
            ": the major must be equal; rebuild the plugin against this SDK");
  } else if (d.abi_minor > kAbiMinor) {
    abi.Add("built for ABI " + found + ", newer than the engine's " + engine +
            ": build against an SDK no newer than the engine, or upgrade the engine");
  }
  if (d.abi_tag != CRMSYNC_ABI_TAG) {
    abi.Add("C++ runtime '" + d.abi_tag + "' (" + d.compiler + "), the engine uses '" +
            CRMSYNC_ABI_TAG + "'");
  }
  if (!abi.empty()) {
    report.Set(kCheckAbi, Verdict::kFail, abi.Summary());
    report.Set(kCheckLoads, Verdict::kSkip,
               "not handed to the ClassLoader: the engine refuses a plugin of another ABI "
               "(see ABI)");
    return report;
  }
  report.Set(kCheckAbi, Verdict::kPass,
             "ABI " + found + " (engine " + engine + "), C++ runtime " + d.abi_tag +
                 ", built with " + d.compiler);

  // Phase two: the ClassLoader, through the engine's own loader.
  MemoryHost host(d.name);  // Outlives the plugin.
  std::unique_ptr<LoadedPlugin> plugin;
  if (by_path) {
    if (FileName(path) != d.name) {
      report.Set(kCheckLoads, Verdict::kFail,
                 "the file is named '" + FileName(path) + "' but the plugin calls itself '" +
                     d.name +
                     "'; the engine loads <plugins.dir>/<crm.plugin>, so the file must "
                     "be named after its plugin");
      return report;
    }
    plugin = LoadedPlugin::LoadFile(path, &error);
  } else {
    plugin = LoadedPlugin::Load(options.plugins_dir, options.target, &error);
  }
  if (!plugin) {
    report.Set(kCheckLoads, Verdict::kFail, error);
    return report;
  }
  report.Set(kCheckLoads, Verdict::kPass,
             "descriptor read, then class " + d.class_name + " created from manifest " +
                 CRMSYNC_MANIFEST_NAME);

  std::vector<std::string> thrown;
  int64_t exceptions = 0;
  const PluginConfig given = options.config_for ? options.config_for(d.name) : PluginConfig();
  CheckResult refuses = CheckRefusesBadConfig(path, given, &thrown, &exceptions);
  report.Set(refuses.name, refuses.verdict, refuses.reason);

  GuardedAdapter& adapter = plugin->adapter();
  Status configured = adapter.Attach(&host.host);
  if (configured.ok()) configured = adapter.Configure(given);
  std::vector<RateLimitHeaders> budget_headers;
  std::string budget_error;
  if (configured.ok() && !adapter.BudgetHeaders(&budget_headers, &budget_error)) {
    // The engine would refuse to start on it just as on a refused config.
    report.Set(kCheckAcceptsConfig, Verdict::kFail, budget_error);
    report.warnings = adapter.Warnings();
  } else if (configured.ok()) {
    std::string keys;
    for (const auto& [key, value] : given.values()) keys += (keys.empty() ? "" : ", ") + key;
    report.Set(kCheckAcceptsConfig, Verdict::kPass,
               "configured with " + std::to_string(given.values().size()) + " setting(s)" +
                   (keys.empty() ? std::string() : " (" + keys + ")"));
    report.warnings = adapter.Warnings();
  } else {
    BatteryContext note{&adapter, Capabilities(), &thrown};
    note.Note(configured);
    // One problem per line, counted, as check-config and serve list them.
    const std::vector<std::string> lines = SplitProblems(configured.message());
    std::string reason = configured.ToString();
    if (lines.size() > 1) {
      reason = std::string(StatusCodeName(configured.code())) + ": " +
               std::to_string(lines.size()) + " problems:";
      for (const std::string& line : lines) reason += "\n" + line;
    }
    report.Set(kCheckAcceptsConfig, Verdict::kFail, reason);
  }

  std::string info_error;
  PluginInfo after = configured.ok() ? adapter.Info(&info_error) : plugin->info();
  if (!info_error.empty()) {
    thrown.push_back(info_error);
    report.Set(kCheckMetadata, Verdict::kFail, "Info() after Configure(): " + info_error);
  } else {
    CheckResult metadata = CheckMetadata(d, plugin->info(), after);
    report.Set(metadata.name, metadata.verdict, metadata.reason);
  }

  if (configured.ok()) {
    BatteryContext context{&adapter, after.capabilities, &thrown};
    for (const CheckResult& result :
         {CheckMapsEvents(context), CheckStatusTable(context), CheckClassification(context),
          CheckWebhooks(context), CheckBatch(context)}) {
      report.Set(result.name, result.verdict, result.reason);
    }
  } else {
    SkipFrom(&report, IndexOf(kCheckMapsEvents), kNotConfigured);
  }
  if (options.live && configured.ok()) {
    ConnectionResult live = CheckConnection(adapter, after.capabilities, given.Get("api_url"));
    report.Set(kCheckLive, live.ok() ? Verdict::kPass : Verdict::kFail,
               std::string(ConnectionStageName(live.stage)) + ": " + live.message);
  } else if (options.live) {
    report.Set(kCheckLive, Verdict::kSkip, kNotConfigured);
  }

  exceptions += adapter.exceptions();
  if (exceptions == 0) {
    report.Set(kCheckNoExceptions, Verdict::kPass, "no plugin call threw");
  } else {
    Problems problems;
    for (const std::string& message : thrown) problems.Add(message);
    report.Set(kCheckNoExceptions, Verdict::kFail,
               std::to_string(exceptions) +
                   " plugin call(s) threw (the engine survives, but it "
                   "is a bug): " +
                   problems.Summary(2));
  }
  return report;
}

}  // namespace

Report RunPluginCheck(const CheckOptions& options) {
  try {
    return Run(options);
  } catch (const std::exception& e) {
    Report report;
    report.target = options.target;
    report.Set(kCheckLoads, Verdict::kFail, std::string("plugin-check failed: ") + e.what());
    return report;
  }
}

int RunPluginCheckCommand(const std::vector<std::string>& args, CheckOptions options,
                          std::ostream& out, std::ostream& err) {
  bool json = false;
  std::vector<std::string> words;
  for (const std::string& arg : args) {
    if (arg == "json") {
      json = true;
    } else if (arg == "--live") {
      options.live = true;
    } else {
      words.push_back(arg);
    }
  }
  if (words.size() != 1) {
    err << "usage: crmsync plugin-check <plugin name or path> [--live] [--config FILE] "
           "[--set KEY=VALUE]... [json]\n";
    return 64;
  }
  options.target = words[0];
  Report report = RunPluginCheck(options);
  if (json) {
    PrintJson(report, out);
  } else {
    PrintText(report, out);
  }
  return report.passed() ? 0 : 1;
}

}  // namespace crmsync::engine::conformance
