// The subcommands; see commands.h.
#include "app/commands.h"

#include <Poco/File.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Path.h>
#include <Poco/StreamCopier.h>

#include "app/plugin_hosts.h"
#include "app/service.h"
#include "app/start_checks.h"
#include "common/json_writer.h"
#include "crmsync/version.h"
#include "plugin_host/plugin_loader.h"

namespace crmsync::engine {
namespace {

std::string CapabilitiesText(const Capabilities& c) {
  std::string out = "batch=" + std::to_string(c.max_batch_size);
  out += c.lookup_by_reference ? " lookup" : " no-lookup";
  if (c.webhook_registration) out += " webhook-registration";
  if (c.max_requests_per_second > 0) out += " max-rps=" + std::to_string(c.max_requests_per_second);
  if (c.max_concurrency > 0) out += " max-concurrency=" + std::to_string(c.max_concurrency);
  return out;
}

}  // namespace

int RunCheckConfig(const config::Settings& settings,
                   const std::vector<config::Diagnostic>& diagnostics, std::ostream& out,
                   bool json) {
  // Every problem is one line and counted once; "ok" lines are not problems.
  int errors = 0;
  int warnings = 0;
  std::vector<std::pair<std::string, std::string>> problems;  // (level, message)
  auto add = [&](const config::Diagnostic& d) {
    const bool error = d.level == config::Diagnostic::Level::kError;
    (error ? errors : warnings)++;
    std::string message = d.message;
    for (char& c : message) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    problems.push_back({error ? "error" : "warning", message});
  };
  for (const auto& d : diagnostics) add(d);
  if (errors == 0) {
    // The checks serve makes before it listens (app/start_checks.h), the
    // plugin attached to a host that reads the store but never writes it.
    std::unique_ptr<CommandPluginHost> host =
        CommandPluginHost::ReadOnly(settings, "crmsync check-config");
    PluginHostSource source;
    source.open = [&host](std::string*) { return host->host(); };
    StartCheckReport checks = RunStartChecks(settings, source);
    for (const std::string& passed : checks.passed) problems.push_back({"ok", passed});
    for (const config::Diagnostic& d : checks.problems) add(d);
  }
  if (json) {
    std::vector<std::string> items;
    for (const auto& [key, value] : settings.Effective(true)) {
      items.push_back(
          JsonObject().Str("key", key).Str("value", value.value).Str("source", value.source).Done());
    }
    std::vector<std::string> list;
    for (const auto& [level, message] : problems) {
      list.push_back(JsonObject().Str("level", level).Str("message", message).Done());
    }
    out << JsonObject()
               .Str("file", settings.config_file())
               .Raw("settings", JsonArray(items))
               .Raw("problems", JsonArray(list))
               .Int("errors", errors)
               .Int("warnings", warnings)
               .Done()
        << "\n";
    return errors == 0 ? kExitOk : kExitProblems;
  }
  out << "# effective configuration (secrets redacted)\n";
  if (!settings.config_file().empty()) out << "# file: " << settings.config_file() << "\n";
  for (const auto& [key, value] : settings.Effective(true)) {
    out << key << " = " << value.value << "    # " << value.source << "\n";
  }
  out << "\n# problems\n";
  for (const auto& [level, message] : problems) out << level << ": " << message << "\n";
  out << errors << " error(s), " << warnings << " warning(s)\n";
  return errors == 0 ? kExitOk : kExitProblems;
}

int RunPlugins(const config::Settings& settings, std::ostream& out, bool json) {
  std::string dir = ResolvePluginsDir(settings);
  std::string error;
  std::vector<PluginReport> reports = ScanPlugins(dir, &error);
  if (!error.empty()) {
    if (json) {
      out << JsonObject().Str("dir", dir).Str("error", error).Done() << "\n";
    } else {
      out << "error: " << error << "\n";
    }
    return kExitProblems;
  }
  if (json) {
    std::vector<std::string> list;
    for (const PluginReport& r : reports) {
      const Capabilities& c = r.info.capabilities;
      JsonObject plugin;
      plugin.Str("file", r.file)
          .Bool("ok", r.ok)
          .Str("name", r.descriptor.name)
          .Str("version", r.descriptor.version)
          .Str("abi", std::to_string(r.descriptor.abi_major) + "." +
                          std::to_string(r.descriptor.abi_minor));
      if (r.ok) {
        plugin.Str("description", r.info.description)
            .Raw("capabilities",
                 JsonObject()
                     .Int("maxBatchSize", c.max_batch_size)
                     .Bool("lookupByReference", c.lookup_by_reference)
                     .Bool("webhookRegistration", c.webhook_registration)
                     .Raw("maxRequestsPerSecond", std::to_string(c.max_requests_per_second))
                     .Int("maxConcurrency", c.max_concurrency)
                     .Done());
      } else {
        plugin.Str("error", r.error);
      }
      list.push_back(plugin.Done());
    }
    out << JsonObject()
               .Str("dir", dir)
               .Str("abi", std::to_string(kAbiMajor) + "." + std::to_string(kAbiMinor))
               .Raw("plugins", JsonArray(list))
               .Done()
        << "\n";
    for (const PluginReport& r : reports) {
      if (!r.ok) return kExitProblems;
    }
    return kExitOk;
  }
  out << "plugins in " << dir << " (engine SDK ABI " << kAbiMajor << "." << kAbiMinor << "):\n";
  int usable = 0;
  for (const PluginReport& r : reports) {
    if (r.ok) {
      ++usable;
      out << "  " << r.descriptor.name << " " << r.descriptor.version << "  ABI "
          << r.descriptor.abi_major << "." << r.descriptor.abi_minor << "  "
          << CapabilitiesText(r.info.capabilities) << "  (" << r.file << ")\n";
      if (!r.info.description.empty()) out << "      " << r.info.description << "\n";
    } else {
      out << "  BROKEN " << r.file << ": " << r.error << "\n";
    }
  }
  out << usable << " usable, " << (reports.size() - usable) << " broken\n";
  return usable == static_cast<int>(reports.size()) ? kExitOk : kExitProblems;
}

int RunCrmDump(const config::Settings& settings, std::ostream& out, std::ostream& err) {
  std::string host = settings.GetString("server.host");
  if (host == "0.0.0.0") host = "127.0.0.1";
  auto port = static_cast<Poco::UInt16>(settings.GetInt("server.port"));
  try {
    Poco::Net::HTTPClientSession session(host, port);
    session.setTimeout(Poco::Timespan(10, 0));
    Poco::Net::HTTPRequest request("GET", "/api/v1/admin/crm/dump", Poco::Net::HTTPMessage::HTTP_1_1);
    request.set("Authorization", "Bearer " + settings.GetString("admin.token"));
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::string body;
    Poco::StreamCopier::copyToString(session.receiveResponse(response), body);
    if (response.getStatus() != Poco::Net::HTTPResponse::HTTP_OK) {
      err << "crm-dump: the service at " << host << ":" << port << " answered "
          << static_cast<int>(response.getStatus()) << ": " << body << "\n";
      return kExitProblems;
    }
    out << body << "\n";
    return kExitOk;
  } catch (const Poco::Exception& e) {
    err << "crm-dump: cannot reach the service at " << host << ":" << port << ": "
        << e.displayText() << "\n";
    return kExitProblems;
  }
}

}  // namespace crmsync::engine
