// conformance/fixtures.h: the synthetic inputs of the conformance battery
// (`crmsync plugin-check`): sync jobs for every event type and lead status,
// CRM answers for every row of the outcome table (docs/design.md §4), and webhook
// deliveries. Built from plain values; nothing here touches the network.
//
// Pure functions; thread-safe.
#ifndef CRMSYNC_ENGINE_CONFORMANCE_FIXTURES_H_
#define CRMSYNC_ENGINE_CONFORMANCE_FIXTURES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crmsync/adapter.h"

namespace crmsync::engine::conformance {

/// The external id the battery pretends the CRM gave ("crm-conformance-1").
extern const char kExternalId[];

/// A whole lead in `status`, every field set (lostReason only for LOST).
Lead SampleLead(LeadStatus status);
/// A whole property in `status`.
Property SampleProperty(PropertyStatus status);

/// The job the engine would hand mapping for `type`, its lead in `lead_status`
/// (lead-shaped types) or its property in `property_status` (property types),
/// with `external_id` linked or not.
SyncJob SampleJob(EventType type, LeadStatus lead_status, PropertyStatus property_status,
                  const std::optional<std::string>& external_id);

/// One job per (event type, lead status or property status, linked or not).
std::vector<SyncJob> AllSampleJobs();

/// One row of the outcome table: a CRM answer and the code DefaultClassify()
/// (crmsync/classify.h) gives it, which a plugin must keep.
struct OutcomeRow {
  std::string name;  ///< "timeout after send", "HTTP 429 with Retry-After: 7", ...
  HttpResponse response;
  StatusCode expected = StatusCode::kOk;
  /// For rate limits and Retry-After on 5xx: the wait the status must carry, or -1.
  int64_t expected_retry_after_ms = -1;
};
/// Every row: transport errors, 408, 2xx, 401, 403, 404, 409, 400, 410, 422,
/// 429 (Retry-After seconds), 500, 502, 503 (Retry-After), 504.
std::vector<OutcomeRow> OutcomeRows();

/// A webhook in the integration strategy's shape (docs/design.md §10): header
/// X-CRM-Event and body {"event", "entityId", "data"}. `data_json` is the data
/// object as JSON text.
WebhookDelivery ReferenceWebhook(const std::string& event, const std::string& entity_id,
                                 const std::string& data_json);

/// A JSON document flattened to its scalar leaves: JSON pointer -> value as
/// text (strings unquoted). False when `json` is not a JSON object or array.
bool FlattenJson(const std::string& json, std::map<std::string, std::string>* leaves);

/// Builds the JSON object text that holds `value` (a string) at `pointer`
/// ("/status" -> {"status":"won"}, "/properties/stage" -> {"properties":{"stage":"won"}}).
std::string JsonAtPointer(const std::string& pointer, const std::string& value);

}  // namespace crmsync::engine::conformance

#endif  // CRMSYNC_ENGINE_CONFORMANCE_FIXTURES_H_
