// check-connection and render; see live_commands.h.
#include "app/live_commands.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "app/commands.h"
#include "app/plugin_hosts.h"
#include "app/service.h"
#include "common/json_writer.h"
#include "common/request_mask.h"
#include "conformance/connection_check.h"
#include "crmsync/redact.h"
#include "dispatch/job_codec.h"
#include "intake/event_validator.h"
#include "plugin_host/plugin_loader.h"
#include "queue/store_codec.h"

namespace crmsync::engine {
namespace {

// crm.plugin loaded from plugins.dir, attached to `host` (which outlives it)
// and configured with its settings, the way `serve` does (Service::Create):
// nullptr with `*error` otherwise.
std::unique_ptr<LoadedPlugin> LoadConfiguredPlugin(const config::Settings& settings,
                                                   PluginHost* host, std::string* error) {
  const std::string name = settings.GetString("crm.plugin");
  std::unique_ptr<LoadedPlugin> plugin =
      LoadedPlugin::Load(ResolvePluginsDir(settings), name, error);
  if (!plugin) return nullptr;
  if (!plugin->Configure(settings.PluginConfigFor(name), error, host)) return nullptr;
  std::vector<RateLimitHeaders> budget_headers;
  if (!plugin->adapter().BudgetHeaders(&budget_headers, error)) return nullptr;
  return plugin;
}

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

struct RenderedHeader {
  std::string name;
  std::string value;             // Masked.
  bool added_by_transport = false;
};

struct RenderedStep {
  std::string step;
  std::string method;
  std::string url;
  std::vector<RenderedHeader> headers;
  std::string body;
};

struct RenderedEvent {
  std::string event_id;
  std::string type;
  std::string entity;  // "lead 42"
  std::vector<RenderedStep> steps;
  std::string error;  // Why the plugin could not map it, masked.
  // False when the plugin's transport cannot prepare requests (built before
  // ABI 2.3): the steps then show the built requests, without what the
  // transport adds when it sends.
  bool prepared = true;
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

// One built request as the transport would send it, masked. When the
// transport cannot prepare requests, the built request against `base_url`.
Status RenderStep(GuardedAdapter& adapter, const HttpRequest& request, const std::string& base_url,
                  const RequestMask& mask, RenderedStep* out, bool* prepared) {
  WireRequest wire;
  Status status = adapter.Prepare(request, &wire, prepared);
  if (!status.ok()) return status;
  if (!*prepared) {
    std::string base = base_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    std::string path = request.path;
    if (!path.empty() && path.front() != '/') path = "/" + path;
    wire.method = request.method;
    wire.url = base + path;
    wire.headers = request.headers;
    if (!request.body.empty() && !request.content_type.empty() &&
        FindHeader(request.headers, "Content-Type").empty()) {
      wire.headers.emplace_back("Content-Type", request.content_type);
    }
    wire.body = request.body;
  }
  out->method = wire.method;
  out->url = mask.Text(wire.url);
  // A header the mapping did not put on the request is the transport's; the
  // mapping's own keep their place in the built request's count.
  std::vector<std::pair<std::string, int>> built;
  for (const auto& [name, value] : request.headers) {
    auto it = std::find_if(built.begin(), built.end(),
                           [&](const auto& b) { return Lower(b.first) == Lower(name); });
    if (it == built.end()) {
      built.emplace_back(name, 1);
    } else {
      ++it->second;
    }
  }
  for (const auto& [name, value] : wire.headers) {
    auto it = std::find_if(built.begin(), built.end(), [&](const auto& b) {
      return Lower(b.first) == Lower(name) && b.second > 0;
    });
    const bool from_mapping = it != built.end();
    if (from_mapping) --it->second;
    out->headers.push_back(RenderedHeader{name, mask.Header(name, value, !from_mapping),
                                          !from_mapping && *prepared});
  }
  out->body = mask.Text(wire.body);
  return Status::Ok();
}

RenderedEvent RenderEvent(GuardedAdapter& adapter, const IncomingEvent& event,
                          const std::string& base_url, const RequestMask& mask) {
  RenderedEvent rendered;
  rendered.event_id = event.event_id;
  rendered.type = EventTypeName(event.type);
  rendered.entity = std::string(EntityKindName(event.kind)) + " " + event.entity_id;
  SyncJob job;
  std::string error;
  if (!FirstTimeJob(event, &job, &error)) {
    rendered.error = mask.Text(error);
    return rendered;
  }
  std::vector<StepKind> steps;
  Status planned = adapter.Plan(job, &steps);
  if (!planned.ok()) {
    rendered.error = mask.Text("Plan: " + planned.ToString());
    return rendered;
  }
  for (StepKind step : steps) {
    HttpRequest request;
    Status built = adapter.BuildRequest(job, step, &request);
    if (!built.ok()) {
      rendered.error =
          mask.Text(std::string("BuildRequest(") + StepKindName(step) + "): " + built.ToString());
      return rendered;
    }
    RenderedStep out;
    out.step = StepKindName(step);
    bool prepared = false;
    Status shown = RenderStep(adapter, request, base_url, mask, &out, &prepared);
    if (!shown.ok()) {
      rendered.error =
          mask.Text(std::string("Prepare(") + StepKindName(step) + "): " + shown.ToString());
      return rendered;
    }
    rendered.prepared = rendered.prepared && prepared;
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
  // The real store: a token the CRM rotates during the check must be kept.
  std::unique_ptr<CommandPluginHost> host = CommandPluginHost::Writable(settings);
  std::unique_ptr<LoadedPlugin> plugin = LoadConfiguredPlugin(settings, host->host(), &error);
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
  std::unique_ptr<CommandPluginHost> host = CommandPluginHost::ReadOnly(settings, "crmsync render");
  std::unique_ptr<LoadedPlugin> plugin = LoadConfiguredPlugin(settings, host->host(), &error);
  const std::string name = settings.GetString("crm.plugin");
  if (!plugin) {
    err << "render: crm.plugin: " << MaskSensitive(error) << "\n";
    return kExitConfig;
  }
  const std::string base_url = settings.PluginConfigFor(name).Get("api_url");
  const RequestMask mask(settings.SecretValues());
  std::vector<RenderedEvent> events;
  bool all_mapped = true;
  bool prepared = true;
  for (const IncomingEvent& event : validated.events) {
    events.push_back(RenderEvent(plugin->adapter(), event, base_url, mask));
    all_mapped = all_mapped && events.back().error.empty();
    prepared = prepared && events.back().prepared;
  }
  const int code = all_mapped ? kExitOk : kExitProblems;

  if (json) {
    std::vector<std::string> list;
    for (const RenderedEvent& e : events) {
      std::vector<std::string> steps;
      for (const RenderedStep& s : e.steps) {
        std::vector<std::string> headers;
        for (const RenderedHeader& h : s.headers) {
          headers.push_back(JsonObject()
                                .Str("name", h.name)
                                .Str("value", h.value)
                                .Bool("addedByTransport", h.added_by_transport)
                                .Done());
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
               .Bool("transportPrepared", prepared)
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
      for (const RenderedHeader& h : s.headers) {
        out << "  " << h.name << ": " << h.value;
        if (h.added_by_transport) out << "   (added by the transport)";
        out << "\n";
      }
      if (!s.body.empty()) out << "\n  " << s.body << "\n";
    }
    if (!e.error.empty()) out << "  error: " << e.error << "\n";
  }
  out << "\n# steps after a create use \"" << kRenderExternalId << "\" for the CRM's id\n";
  if (prepared) {
    out << "# headers are as the plugin's transport would send them now (signatures\n"
        << "# included); credentials and signatures show as " << kMaskedToken << "\n";
  } else {
    out << "# plugin " << name << " (ABI " << plugin->descriptor().abi_major << "."
        << plugin->descriptor().abi_minor << ") cannot prepare requests (crmsync/prepare.h,\n"
        << "# ABI 2.3): headers its transport adds when sending are not shown\n";
  }
  return code;
}

}  // namespace crmsync::engine
