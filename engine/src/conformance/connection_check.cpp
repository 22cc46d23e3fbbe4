// The live connection probe; see connection_check.h.
#include "conformance/connection_check.h"

#include <exception>
#include <optional>

#include "conformance/fixtures.h"
#include "crmsync/redact.h"

namespace crmsync::engine::conformance {
namespace {

// What a URL may show: no query (it may carry a key), masked.
std::string ShownUrl(const std::string& base_url, const std::string& path) {
  std::string base = base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  std::string shown = path.substr(0, path.find('?'));
  if (!shown.empty() && shown.front() != '/') shown = "/" + shown;
  return MaskSensitive(base + shown);
}

ConnectionResult Failed(ConnectionResult result, ConnectionStage stage, const std::string& text) {
  result.stage = stage;
  result.message = MaskSensitive(text);
  return result;
}

ConnectionResult Probe(GuardedAdapter& adapter, const Capabilities& capabilities,
                       const std::string& base_url) {
  ConnectionResult result;
  if (!capabilities.lookup_by_reference) {
    return Failed(result, ConnectionStage::kNoLookup,
                  "plugin " + adapter.name() +
                      " has no lookup by reference, the only read-only call the SDK offers; "
                      "nothing was sent (checking it would mean writing to the CRM)");
  }
  // A first-time lead whose reference no platform record has: the lookup
  // answers "no such record", which proves credentials, path and pointers.
  SyncJob job =
      SampleJob(EventType::kLeadCreated, LeadStatus::kNew, PropertyStatus::kActive, std::nullopt);
  job.job_id = "connection-check";
  job.event_id = "connection-check";
  job.external_reference = kProbeReference;
  HttpRequest request;
  Status built = adapter.BuildLookup(job, &request);
  if (!built.ok()) {
    return Failed(result, ConnectionStage::kPlugin,
                  "plugin " + adapter.name() + " could not build its lookup: " + built.ToString());
  }
  result.method = request.method;
  result.url = ShownUrl(base_url, request.path);
  const std::string call = request.method + " " + result.url;

  HttpResponse response = adapter.Send(request);
  switch (response.error) {
    case TransportError::kNone:
      break;
    case TransportError::kDns:
      return Failed(result, ConnectionStage::kDns,
                    "DNS resolution failed: " + response.error_message);
    case TransportError::kConnect:
      return Failed(result, ConnectionStage::kConnect,
                    "TCP connect failed: " + response.error_message);
    case TransportError::kTimeout:
      return Failed(result, ConnectionStage::kTimeout, "timed out: " + response.error_message);
    case TransportError::kTls:
      return Failed(result, ConnectionStage::kTls, "TLS failed: " + response.error_message);
    case TransportError::kIo:
      return Failed(result, ConnectionStage::kIo,
                    "the connection broke: " + response.error_message);
  }
  result.http_status = response.status;
  const std::string status = std::to_string(response.status);
  if (response.status == 401 || response.status == 403) {
    // The plugin's reading names what it knows: an OAuth token endpoint's
    // error code, say, when no CRM was reached at all.
    const Status classified = adapter.Classify(request, response);
    return Failed(result, ConnectionStage::kCredentials,
                  "the CRM refused the credentials: " + status + " for " + call + " (" +
                      classified.ToString() + "; check crm.api.key / crm.api.secret)");
  }
  if (response.status == 404) {
    return Failed(result, ConnectionStage::kNotFound,
                  "404 Not Found for " + call +
                      ": the CRM has no such path (check crm.api.url and the lookup's path)");
  }
  if (response.status >= 500) {
    const Status classified = adapter.Classify(request, response);
    return Failed(
        result, ConnectionStage::kServerError,
        "the CRM failed: " + status + " for " + call + " (" + classified.ToString() + ")");
  }
  if (response.status < 200 || response.status > 299) {
    const Status classified = adapter.Classify(request, response);
    return Failed(
        result, ConnectionStage::kHttpStatus,
        "unexpected answer " + status + " for " + call + " (" + classified.ToString() + ")");
  }
  std::optional<std::string> found;
  Status read = adapter.ReadLookup(job, response, &found);
  if (!read.ok()) {
    // Never "not found": an answer the mapping cannot read says nothing about
    // the record, so the engine treats such a lookup's outcome as unknown.
    return Failed(result, ConnectionStage::kUnreadable,
                  "lookup response unreadable (outcome unknown): " + status + " for " + call +
                      ": " + read.message());
  }
  result.stage = ConnectionStage::kOk;
  result.message = MaskSensitive(
      "authenticated; " + call + " answered " + status + " and the mapping read it (" +
      (found ? "reference " + std::string(kProbeReference) + " matched record " + *found
             : std::string("no record for the probe reference, as expected")) +
      ")");
  return result;
}

}  // namespace

const char kProbeReference[] = "lead:crmsync-connection-check-no-such-record";

const char* ConnectionStageName(ConnectionStage stage) noexcept {
  switch (stage) {
    case ConnectionStage::kOk:
      return "ok";
    case ConnectionStage::kDns:
      return "dns";
    case ConnectionStage::kConnect:
      return "connect";
    case ConnectionStage::kTimeout:
      return "timeout";
    case ConnectionStage::kTls:
      return "tls";
    case ConnectionStage::kIo:
      return "io";
    case ConnectionStage::kCredentials:
      return "credentials";
    case ConnectionStage::kNotFound:
      return "not_found";
    case ConnectionStage::kServerError:
      return "server_error";
    case ConnectionStage::kHttpStatus:
      return "http_status";
    case ConnectionStage::kUnreadable:
      return "unreadable";
    case ConnectionStage::kNoLookup:
      return "no_lookup";
    case ConnectionStage::kPlugin:
      return "plugin";
  }
  return "plugin";
}

int ConnectionExitCode(ConnectionStage stage) noexcept {
  switch (stage) {
    case ConnectionStage::kOk:
      return 0;
    case ConnectionStage::kDns:
      return 2;
    case ConnectionStage::kConnect:
      return 3;
    case ConnectionStage::kTimeout:
      return 4;
    case ConnectionStage::kTls:
      return 5;
    case ConnectionStage::kCredentials:
      return 6;
    case ConnectionStage::kNotFound:
      return 7;
    case ConnectionStage::kServerError:
      return 8;
    case ConnectionStage::kUnreadable:
      return 9;
    case ConnectionStage::kHttpStatus:
      return 10;
    case ConnectionStage::kIo:
      return 11;
    case ConnectionStage::kNoLookup:
      return 12;
    case ConnectionStage::kPlugin:
      return 13;
  }
  return 13;
}

ConnectionResult CheckConnection(GuardedAdapter& adapter, const Capabilities& capabilities,
                                 const std::string& base_url) {
  try {
    return Probe(adapter, capabilities, base_url);
  } catch (const std::exception& e) {
    ConnectionResult result;
    return Failed(result, ConnectionStage::kPlugin,
                  std::string("connection check failed: ") + e.what());
  }
}

}  // namespace crmsync::engine::conformance
