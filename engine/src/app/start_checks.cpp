// The start checks shared by serve and check-config; see start_checks.h.
#include "app/start_checks.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <system_error>

#include <Poco/Path.h>

#include "app/service.h"
#include "config/exposure.h"
#include "dispatch/retry_policy.h"
#include "http/server.h"
#include "inbound/agent_directory.h"
#include "inbound/change_feed.h"
#include "inbound/poller.h"
#include "ops/alerts.h"
#include "store/sqlite_store.h"
#include "webhook/verify.h"

namespace crmsync::engine {
namespace {

namespace fs = std::filesystem;

using Level = config::Diagnostic::Level;

// One line per problem: a reason that spans lines (a plugin's) is joined.
std::string OneLine(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

// Creates and removes an empty file in `dir`; false with the system's reason
// and errno.
bool CanCreateIn(const fs::path& dir, std::string* reason, int* error) {
  const fs::path probe = dir / (".crmsync-write-probe-" + std::to_string(getpid()));
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = errno;
    *reason = std::strerror(errno);
    return false;
  }
  ::close(fd);
  ::unlink(probe.c_str());
  return true;
}

void CheckStore(const config::Settings& settings, StartCheckReport* report) {
  if (settings.GetString("store.backend") != "sqlite") return;
  std::string why;
  const StoreProbe verdict = ProbeStoreWritable(settings.GetString("store.path"), &why);
  if (verdict != StoreProbe::kOk) {
    report->problems.push_back({verdict == StoreProbe::kError ? Level::kError : Level::kWarning,
                                "store.path", "store.path: " + why});
    return;
  }
  // An existing file must be a store this build opens; read only, so a live
  // store is neither migrated nor switched.
  const std::string path = settings.GetString("store.path");
  std::error_code ec;
  if (!fs::exists(path, ec) || fs::file_size(path, ec) == 0 || ec) return;
  try {
    const int version = CheckSqliteStoreFile(path);
    report->passed.push_back("store.path: a crmsync store at schema version " +
                             std::to_string(version));
  } catch (const StoreError& e) {
    report->problems.push_back({Level::kError, "store.path", "store.path: " + OneLine(e.what())});
  }
}

// serve binds server.host:server.port; the same bind, released at once. A
// port in use is a warning: check-config is often run beside the running
// service it checks, and serve names the error itself.
void CheckListen(const config::Settings& settings, StartCheckReport* report) {
  const std::string host = settings.GetString("server.host");
  const int port = static_cast<int>(settings.GetInt("server.port"));
  if (port == 0) return;  // Any free port.
  std::string reason;
  bool in_use = false;
  const std::string where = host + ":" + std::to_string(port);
  if (CanListen(host, port, &reason, &in_use)) {
    report->passed.push_back("server: " + where + " can be listened on");
  } else if (in_use) {
    report->problems.push_back({Level::kWarning, "server.port",
                                "server.port: " + where + " is in use (is crmsync already running?)"});
  } else {
    report->problems.push_back(
        {Level::kError, "server.host", "server.host: cannot listen on " + where + ": " + reason});
  }
}

void CheckPlugin(const config::Settings& settings, const PluginHostSource& source,
                 StartCheckReport* report) {
  const std::string name = settings.GetString("crm.plugin");
  std::string error;
  auto plugin = LoadedPlugin::Load(ResolvePluginsDir(settings), name, &error);
  if (!plugin) {
    report->problems.push_back({Level::kError, "crm.plugin", OneLine("crm.plugin: " + error)});
    return;
  }
  // serve does not create its store for a start that fails anyway.
  if (source.creates_store && report->HasErrors()) return;
  PluginHost* host = source.open(&error);
  if (host == nullptr) {
    report->problems.push_back({Level::kError, "store", OneLine(error)});
    return;
  }
  // One problem per line the plugin names (every mistake of a mapping file),
  // so each is listed and counted on its own.
  std::vector<std::string> refusal;
  if (!plugin->Configure(settings.PluginConfigFor(name), &refusal, host)) {
    for (const std::string& problem : refusal) {
      report->problems.push_back({Level::kError, "crm.plugin", OneLine("crm.plugin: " + problem)});
    }
    return;
  }
  report->passed.push_back("plugin " + name + " " + plugin->descriptor().version +
                           " loads and accepts its configuration");
  std::string budget_error;
  if (!plugin->adapter().BudgetHeaders(&report->budget_headers, &budget_error)) {
    report->problems.push_back(
        {Level::kError, "crm.plugin", OneLine("crm.plugin: " + budget_error)});
    return;
  }
  for (const std::string& warning : plugin->adapter().Warnings()) {
    report->problems.push_back({Level::kWarning, "crm.plugin", OneLine(name + ": " + warning)});
  }
  // inbound.poll=on asks for polling the plugin may not offer.
  bool poll = false;
  std::string poll_error;
  if (!DecidePolling(settings.GetString("inbound.poll"), plugin->info().capabilities, name, &poll,
                     &poll_error)) {
    report->problems.push_back({Level::kError, "inbound.poll", OneLine(poll_error)});
    return;
  }
  report->plugin = std::move(plugin);
}

// The inbound and alert settings, through the functions the service builds
// them with (Service::SetUpInbound, Service::SetUpAlerts).
void CheckInboundAndAlerts(const config::Settings& settings, StartCheckReport* report) {
  auto error_at = [report](const std::string& key, const std::string& message) {
    report->problems.push_back({Level::kError, key, OneLine(message)});
  };
  std::string error;
  std::vector<std::string> secrets = settings.GetList("webhook.secrets");
  secrets.insert(secrets.begin(), settings.GetString("crm.webhook.secret"));
  WebhookSecrets parsed;
  if (!ParseWebhookSecrets(secrets, &parsed, &error)) error_at("webhook.secrets", error);
  std::map<std::string, std::string> agents;
  error.clear();
  if (!AgentDirectory::ParsePairs(settings.GetList("inbound.agent_map"), &agents, &error)) {
    error_at("inbound.agent_map", error);
  }
  std::map<std::string, std::string> agent_emails;
  error.clear();
  if (!AgentDirectory::ParseEmails(settings.GetList("inbound.agent_emails"), &agent_emails,
                                   &error)) {
    error_at("inbound.agent_emails", error);
  }
  const bool insecure = settings.GetBool("crm.allow_insecure_http");
  RetryPolicy policy(settings.GetInt("crm.retry.delay"),
                     static_cast<int>(settings.GetInt("crm.retry.attempts")), false);
  const std::string callback_url = settings.GetString("inbound.callback_url");
  error.clear();
  if (!callback_url.empty() &&
      !CallbackSender::Create(callback_url, insecure, nullptr, policy, nullptr, nullptr, &error)) {
    error_at("inbound.callback_url", error);
  }
  error.clear();
  if (!Alerts::Create(settings.GetString("alerts.webhook_url"), insecure, policy, nullptr, nullptr,
                      &error)) {
    error_at("alerts.webhook_url", error);
  }
}

}  // namespace

bool StartCheckReport::HasErrors() const {
  for (const config::Diagnostic& d : problems) {
    if (d.level == Level::kError) return true;
  }
  return false;
}

std::string StartCheckReport::ErrorText() const {
  std::string text;
  for (const config::Diagnostic& d : problems) {
    if (d.level != Level::kError) continue;
    if (!text.empty()) text += "\n";
    text += d.message;
  }
  return text;
}

StoreProbe ProbeStoreWritable(const std::string& path, std::string* why) {
  std::error_code ec;
  const fs::path file = fs::absolute(path, ec).lexically_normal();
  if (ec) {
    *why = "cannot resolve '" + path + "': " + ec.message();
    return StoreProbe::kError;
  }
  if (fs::is_directory(file, ec)) {
    *why = file.string() + " is a folder, not a database file";
    return StoreProbe::kError;
  }
  if (fs::exists(file, ec)) {
    const int fd = ::open(file.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      *why = "cannot open " + file.string() + " for writing (" + std::strerror(errno) + ")";
      return StoreProbe::kError;
    }
    ::close(fd);
  }
  // The folder must take new files (the WAL and its index sit beside the
  // database). A missing folder is created at start, so its nearest existing
  // ancestor must take new entries.
  fs::path dir = file.parent_path();
  while (!dir.empty() && !fs::exists(dir, ec) && dir != dir.root_path()) dir = dir.parent_path();
  if (!fs::is_directory(dir, ec)) {
    *why = "cannot create the folder of " + file.string() + ": " + dir.string() +
           " is not a folder";
    return StoreProbe::kError;
  }
  std::string reason;
  int error = 0;
  if (CanCreateIn(dir, &reason, &error)) return StoreProbe::kOk;
  if (dir == file.parent_path()) {
    *why = "cannot write in folder " + dir.string() + " (" + reason + ")";
    return StoreProbe::kError;
  }
  *why = "cannot create the folder of " + file.string() + " under " + dir.string() + " (" +
         reason + ")";
  if (error == EACCES || error == EPERM) {
    *why += "; serve fails unless the folder exists by then";
    return StoreProbe::kWarning;
  }
  return StoreProbe::kError;
}

// server.tls.cert and server.tls.key: both or neither, readable PEM, the key
// not encrypted and matching the certificate (http/tls.h). Relative paths are
// read against the config folder, like crm.ca_file.
void CheckTls(const config::Settings& settings, StartCheckReport* report) {
  auto config_relative = [&settings](const std::string& path) {
    if (path.empty() || Poco::Path(path).isAbsolute()) return path;
    return Poco::Path(Poco::Path::forDirectory(settings.config_dir()), path).toString();
  };
  std::string error;
  report->tls = TlsContext::Load({config_relative(settings.GetString("server.tls.cert")),
                                  config_relative(settings.GetString("server.tls.key"))},
                                 &error);
  if (!error.empty()) {
    report->problems.push_back({config::Diagnostic::Level::kError, "server.tls", OneLine(error)});
  } else if (report->tls) {
    report->passed.push_back("server.tls: the certificate and key load and match");
  }
}

StartCheckReport RunStartChecks(const config::Settings& settings, const PluginHostSource& host) {
  StartCheckReport report;
  CheckTls(settings, &report);
  config::CheckExposure(settings, &report.problems);
  CheckStore(settings, &report);
  CheckListen(settings, &report);
  CheckInboundAndAlerts(settings, &report);
  CheckPlugin(settings, host, &report);
  if (report.plugin) {
    report.shadow = LoadShadowPlugin(settings, ResolvePluginsDir(settings), &report.problems);
    if (report.shadow) {
      report.passed.push_back("shadow plugin " + settings.GetString("crm.shadow.plugin") + " " +
                              report.shadow->plugin->descriptor().version +
                              " loads and accepts its configuration");
    }
  }
  return report;
}

}  // namespace crmsync::engine
