// check-connection and render; see live_commands.h.
#include "app/live_commands.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "app/commands.h"
#include "app/service.h"
#include "common/json_writer.h"
#include "conformance/connection_check.h"
#include "crmsync/redact.h"
#include "dispatch/job_codec.h"
#include "intake/event_validator.h"
#include "plugin_host/plugin_loader.h"
#include "queue/store_codec.h"

namespace crmsync::engine {
namespace {

// crm.plugin loaded from plugins.dir and configured with its settings, the
// way `serve` does (Service::Create): nullptr with `*error` otherwise.
std::unique_ptr<LoadedPlugin> LoadConfiguredPlugin(const config::Settings& settings,
                                                   std::string* error) {
  const std::string name = settings.GetString("crm.plugin");
  std::unique_ptr<LoadedPlugin> plugin =
      LoadedPlugin::Load(ResolvePluginsDir(settings), name, error);
  if (!plugin) return nullptr;
  if (!plugin->Configure(settings.PluginConfigFor(name), error)) return nullptr;
  std::vector<RateLimitHeaders> budget_headers;
  if (!plugin->adapter().BudgetHeaders(&budget_headers, error)) return nullptr;
  return plugin;
}

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// A header whose value is a credential: shown as "[token]", an
// Authorization's scheme kept ("Bearer [token]").
std::string ShownHeaderValue(const std::string& name, const std::string& value) {
  const std::string lower = Lower(name);
  bool secret = false;
  for (const char* word : {"auth", "key", "token", "secret", "signature", "password", "cookie",
                           "session", "credential"}) {
    secret = secret || lower.find(word) != std::string::npos;
  }
  if (!secret) return MaskSensitive(value);
  const size_t blank = value.find(' ');
  if (lower.find("authorization") != std::string::npos && blank != std::string::npos && blank > 0) {
    return value.substr(0, blank) + " " + kMaskedToken;
  }
  return kMaskedToken;
}

struct RenderedStep {
  std::string step;
  std::string method;
  std::string url;
  HeaderList headers;
  std::string body;
};

struct RenderedEvent {
  std::string event_id;
  std::string type;
  std::string entity;  // "lead 42"
  std::vector<RenderedStep> steps;
  std::string error;  // Why the plugin could not map it, masked.
};

// The job intake makes of `event` for an entity it has never seen.
bool FirstTimeJob(const IncomingEvent& event, SyncJob* job, std::string* error) {
  const bool is_lead = event.kind == EntityKind::kLead;
  PatchMerge merge;
  try {
    merge = MergeEventPatch("", "", event.entity_json, IsoMs(event.occurred_at).value_or(0),
                            is_lead, event.data_path);
  } catch (const PatchConflict& e) {
    *error = e.what();
    return false;
  }
  LeasedJob leased;
  leased.id = 1;
  leased.event_id = event.event_id;
  leased.type = event.type;
  leased.kind = event.kind;
  leased.entity_id = event.entity_id;
  leased.priority = event.priority;
  leased.payload = JobPayload(event, merge.entity_json, merge.changed);
  return DecodeJob(leased, job, error);
}

RenderedEvent RenderEvent(GuardedAdapter& adapter, const IncomingEvent& event,
                          const std::string& base_url) {
  RenderedEvent rendered;
  rendered.event_id = event.event_id;
  rendered.type = EventTypeName(event.type);
  rendered.entity = std::string(EntityKindName(event.kind)) + " " + event.entity_id;
  SyncJob job;
  std::string error;
  if (!FirstTimeJob(event, &job, &error)) {
    rendered.error = MaskSensitive(error);
    return rendered;
  }
  std::vector<StepKind> steps;
  Status planned = adapter.Plan(job, &steps);
  if (!planned.ok()) {
    rendered.error = "Plan: " + planned.ToString();
    return rendered;
  }
  std::string base = base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  for (StepKind step : steps) {
    HttpRequest request;
    Status built = adapter.BuildRequest(job, step, &request);
    if (!built.ok()) {
      rendered.error = std::string("BuildRequest(") + StepKindName(step) + "): " + built.ToString();
      return rendered;
    }
    RenderedStep out;
    out.step = StepKindName(step);
    out.method = request.method;
    std::string path = request.path;
    if (!path.empty() && path.front() != '/') path = "/" + path;
    out.url = MaskSensitive(base + path);
    if (!request.body.empty() && !request.content_type.empty() &&
        FindHeader(request.headers, "Content-Type").empty()) {
      out.headers.emplace_back("Content-Type", request.content_type);
    }
    for (const auto& [name, value] : request.headers) {
      out.headers.emplace_back(name, ShownHeaderValue(name, value));
    }
    out.body = MaskSensitive(request.body);
    rendered.steps.push_back(std::move(out));
    // Every step after a create knows the CRM's id (adapter.h).
    if (step == StepKind::kCreate) job.external_id = kRenderExternalId;
  }
  return rendered;
}

}  // namespace

const char kRenderExternalId[] = "crm-id-from-create";

int RunCheckConnection(const config::Settings& settings, std::ostream& out, std::ostream& err,
                       bool json) {
  std::string error;
  std::unique_ptr<LoadedPlugin> plugin = LoadConfiguredPlugin(settings, &error);
  const std::string name = settings.GetString("crm.plugin");
  if (!plugin) {
    if (json) {
      out << JsonObject()
                 .Str("plugin", name)
                 .Bool("ok", false)
                 .Str("stage", "config")
                 .Str("message", MaskSensitive("crm.plugin: " + error))
                 .Int("exitCode", kExitConfig)
                 .Done()
          << "\n";
    } else {
      err << "check-connection: crm.plugin: " << MaskSensitive(error) << "\n";
    }
    return kExitConfig;
  }
  const std::string base_url = settings.PluginConfigFor(name).Get("api_url");
  conformance::ConnectionResult result =
      conformance::CheckConnection(plugin->adapter(), plugin->info().capabilities, base_url);
  const int code = conformance::ConnectionExitCode(result.stage);
  if (json) {
    out << JsonObject()
               .Str("plugin", name)
               .Str("version", plugin->descriptor().version)
               .Bool("ok", result.ok())
               .Str("stage", conformance::ConnectionStageName(result.stage))
               .Str("message", result.message)
               .StrOrNull("method", result.method)
               .StrOrNull("url", result.url)
               .IntOrNull("httpStatus", result.http_status)
               .Int("exitCode", code)
               .Done()
        << "\n";
    return code;
  }
  if (result.ok()) {
    out << "ok: plugin " << name << " " << plugin->descriptor().version << ": " << result.message
        << "\n";
  } else {
    out << "FAILED (" << conformance::ConnectionStageName(result.stage) << "): plugin " << name
        << ": " << result.message << "\n";
  }
  return code;
}

int RunRender(const config::Settings& settings, const std::string& event_file, std::ostream& out,
              std::ostream& err, bool json) {
  std::ifstream in(event_file, std::ios::binary);
  if (!in) {
    err << "render: cannot read " << event_file << "\n";
    return kExitProblems;
  }
  std::ostringstream text;
  text << in.rdbuf();
  ValidationResult validated = ValidateEventsBody(text.str());
  if (!validated.errors.empty()) {
    if (json) {
      std::vector<std::string> errors;
      for (const FieldError& e : validated.errors) {
        errors.push_back(JsonObject().Str("path", e.path).Str("message", e.message).Done());
      }
      out << JsonObject()
                 .Str("file", event_file)
                 .Bool("valid", false)
                 .Raw("errors", JsonArray(errors))
                 .Done()
          << "\n";
    } else {
      err << "render: " << event_file << " is not a valid platform event (docs/events.md):\n";
      for (const FieldError& e : validated.errors) {
        err << "  " << e.path << ": " << MaskSensitive(e.message) << "\n";
      }
    }
    return kExitProblems;
  }

  std::string error;
  std::unique_ptr<LoadedPlugin> plugin = LoadConfiguredPlugin(settings, &error);
  const std::string name = settings.GetString("crm.plugin");
  if (!plugin) {
    err << "render: crm.plugin: " << MaskSensitive(error) << "\n";
    return kExitConfig;
  }
  const std::string base_url = settings.PluginConfigFor(name).Get("api_url");
  std::vector<RenderedEvent> events;
  bool all_mapped = true;
  for (const IncomingEvent& event : validated.events) {
    events.push_back(RenderEvent(plugin->adapter(), event, base_url));
    all_mapped = all_mapped && events.back().error.empty();
  }
  const int code = all_mapped ? kExitOk : kExitProblems;

  if (json) {
    std::vector<std::string> list;
    for (const RenderedEvent& e : events) {
      std::vector<std::string> steps;
      for (const RenderedStep& s : e.steps) {
        std::vector<std::string> headers;
        for (const auto& [header, value] : s.headers) {
          headers.push_back(JsonObject().Str("name", header).Str("value", value).Done());
        }
        steps.push_back(JsonObject()
                            .Str("step", s.step)
                            .Str("method", s.method)
                            .Str("url", s.url)
                            .Raw("headers", JsonArray(headers))
                            .Str("body", s.body)
                            .Done());
      }
      JsonObject item;
      item.Str("eventId", e.event_id).Str("type", e.type).Str("entity", e.entity);
      item.Raw("steps", JsonArray(steps));
      if (!e.error.empty()) item.Str("error", e.error);
      list.push_back(item.Done());
    }
    out << JsonObject()
               .Str("plugin", name)
               .Str("version", plugin->descriptor().version)
               .Str("externalIdAfterCreate", kRenderExternalId)
               .Raw("events", JsonArray(list))
               .Done()
        << "\n";
    return code;
  }
  out << "# requests plugin " << name << " " << plugin->descriptor().version << " builds for "
      << event_file << " (nothing sent; secrets and personal data masked)\n";
  for (const RenderedEvent& e : events) {
    out << "\nevent " << e.event_id << " " << e.type << " (" << e.entity << ", no CRM link yet)\n";
    for (const RenderedStep& s : e.steps) {
      out << "\n  step " << s.step << "\n  " << s.method << " " << s.url << "\n";
      for (const auto& [header, value] : s.headers) out << "  " << header << ": " << value << "\n";
      if (!s.body.empty()) out << "\n  " << s.body << "\n";
    }
    if (!e.error.empty()) out << "  error: " << e.error << "\n";
  }
  out << "\n# steps after a create use \"" << kRenderExternalId << "\" for the CRM's id\n"
      << "# headers the plugin's transport adds when sending (credentials it keeps there,\n"
      << "# signatures) are not part of the built request and are not shown\n";
  return code;
}

}  // namespace crmsync::engine
