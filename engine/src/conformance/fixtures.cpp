// Synthetic inputs of the conformance battery; see fixtures.h.
#include "conformance/fixtures.h"

#include <sstream>

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

namespace crmsync::engine::conformance {

const char kExternalId[] = "crm-conformance-1";

namespace {

constexpr char kLeadId[] = "conformance-lead-1";
constexpr char kPropertyId[] = "conformance-prop-1";
constexpr char kWhen[] = "2026-11-23T10:15:00Z";

HttpResponse Answer(int status, const std::string& body, HeaderList headers = {}) {
  HttpResponse response;
  response.status = status;
  response.body = body;
  response.headers = std::move(headers);
  response.headers.emplace_back("Content-Type", "application/json");
  response.request_sent = true;
  return response;
}

HttpResponse Failed(TransportError error, bool request_sent) {
  HttpResponse response;
  response.error = error;
  response.error_message = std::string("conformance: ") + TransportErrorName(error);
  response.request_sent = request_sent;
  return response;
}

std::string Reason(int status) {
  return "{\"message\":\"conformance row: HTTP " + std::to_string(status) + "\"}";
}

void Flatten(const Poco::Dynamic::Var& value, const std::string& pointer,
             std::map<std::string, std::string>* leaves) {
  if (value.type() == typeid(Poco::JSON::Object::Ptr)) {
    Poco::JSON::Object::Ptr object = value.extract<Poco::JSON::Object::Ptr>();
    for (const auto& [key, member] : *object) Flatten(member, pointer + "/" + key, leaves);
  } else if (value.type() == typeid(Poco::JSON::Array::Ptr)) {
    Poco::JSON::Array::Ptr array = value.extract<Poco::JSON::Array::Ptr>();
    for (size_t i = 0; i < array->size(); ++i) {
      Flatten(array->get(static_cast<unsigned>(i)), pointer + "/" + std::to_string(i), leaves);
    }
  } else if (value.isEmpty()) {
    (*leaves)[pointer] = "null";
  } else {
    (*leaves)[pointer] = value.toString();
  }
}

}  // namespace

Lead SampleLead(LeadStatus status) {
  Lead lead;
  lead.id = kLeadId;
  lead.name = "Asha Rao";
  lead.email = "asha.rao@example.com";
  lead.phone = "+91 98450 12345";
  lead.source = "website";
  lead.status = status;
  lead.property_id = kPropertyId;
  lead.assigned_to_id = "dealer-7";
  lead.budget_min = 5000000;
  lead.budget_max = 7500000;
  lead.preferred_location = {"Whitefield", "Indiranagar"};
  lead.utm_source = "google";
  lead.notes = "Wants a 3BHK near a metro station";
  lead.created_at = kWhen;
  lead.updated_at = kWhen;
  if (status == LeadStatus::kLost) lead.lost_reason = "Bought elsewhere";
  return lead;
}

Property SampleProperty(PropertyStatus status) {
  Property property;
  property.id = kPropertyId;
  property.title = "3BHK apartment in Whitefield";
  property.price = 8500000;
  property.city = "Bengaluru";
  property.locality = "Whitefield";
  property.status = status;
  property.owner_id = "owner-3";
  property.dealer_id = "dealer-7";
  property.updated_at = kWhen;
  return property;
}

SyncJob SampleJob(EventType type, LeadStatus lead_status, PropertyStatus property_status,
                  const std::optional<std::string>& external_id) {
  SyncJob job;
  job.job_id = "1";
  job.event_id = std::string("evt-conformance-") + EventTypeName(type);
  job.event_type = type;
  job.entity_kind = EntityKindOf(type);
  job.external_id = external_id;
  job.attempt = 1;
  if (job.entity_kind == EntityKind::kProperty) {
    job.entity_id = kPropertyId;
    job.external_reference = std::string("property:") + kPropertyId;
    job.property = SampleProperty(property_status);
    return job;
  }
  job.entity_id = kLeadId;
  job.external_reference = std::string("lead:") + kLeadId;
  job.lead = SampleLead(lead_status);
  if (type == EventType::kInquirySubmitted) {
    Inquiry inquiry;
    inquiry.id = "inq-conformance-1";
    inquiry.lead_id = kLeadId;
    inquiry.property_id = kPropertyId;
    inquiry.message = "Is the flat still available? Can I visit on Saturday?";
    inquiry.created_at = kWhen;
    inquiry.lead = *job.lead;
    job.inquiry = inquiry;
  } else if (type == EventType::kDealerAssigned) {
    DealerAssignment assignment;
    assignment.lead_id = kLeadId;
    assignment.dealer_id = "dealer-9";
    assignment.assigned_at = kWhen;
    job.assignment = assignment;
    job.lead->assigned_to_id = "dealer-9";
  }
  return job;
}

std::vector<SyncJob> AllSampleJobs() {
  std::vector<SyncJob> jobs;
  for (const std::optional<std::string>& external_id :
       {std::optional<std::string>(), std::optional<std::string>(kExternalId)}) {
    for (EventType type : AllEventTypes()) {
      if (EntityKindOf(type) == EntityKind::kProperty) {
        for (PropertyStatus status :
             {PropertyStatus::kActive, PropertyStatus::kInactive, PropertyStatus::kSold}) {
          jobs.push_back(SampleJob(type, LeadStatus::kNew, status, external_id));
        }
      } else {
        for (LeadStatus status : AllLeadStatuses()) {
          jobs.push_back(SampleJob(type, status, PropertyStatus::kActive, external_id));
        }
      }
    }
  }
  return jobs;
}

std::vector<OutcomeRow> OutcomeRows() {
  std::vector<OutcomeRow> rows;
  auto add = [&rows](std::string name, HttpResponse response, StatusCode expected,
                     int64_t retry_after_ms = -1) {
    rows.push_back(OutcomeRow{std::move(name), std::move(response), expected, retry_after_ms});
  };
  add("connect error", Failed(TransportError::kConnect, false), StatusCode::kRetryable);
  add("timeout after send", Failed(TransportError::kTimeout, true), StatusCode::kRetryable);
  add("timeout before send", Failed(TransportError::kTimeout, false), StatusCode::kRetryable);
  add("connection reset", Failed(TransportError::kIo, true), StatusCode::kRetryable);
  add("TLS failure", Failed(TransportError::kTls, false), StatusCode::kRetryable);
  add("HTTP 408", Answer(408, Reason(408)), StatusCode::kRetryable);
  add("HTTP 200", Answer(200, "{\"id\":\"crm-conformance-1\"}"), StatusCode::kOk);
  add("HTTP 201", Answer(201, "{\"id\":\"crm-conformance-1\"}"), StatusCode::kOk);
  add("HTTP 204", Answer(204, ""), StatusCode::kOk);
  add("HTTP 401", Answer(401, Reason(401)), StatusCode::kUnauthenticated);
  add("HTTP 403", Answer(403, Reason(403)), StatusCode::kUnauthenticated);
  add("HTTP 404", Answer(404, Reason(404)), StatusCode::kNotFound);
  add("HTTP 409", Answer(409, Reason(409)), StatusCode::kConflict);
  add("HTTP 400", Answer(400, Reason(400)), StatusCode::kInvalidRecord);
  add("HTTP 410", Answer(410, Reason(410)), StatusCode::kInvalidRecord);
  add("HTTP 422", Answer(422, Reason(422)), StatusCode::kInvalidRecord);
  add("HTTP 429 with Retry-After: 7", Answer(429, Reason(429), {{"Retry-After", "7"}}),
      StatusCode::kRateLimited, 7000);
  add("HTTP 500", Answer(500, Reason(500)), StatusCode::kRetryable);
  add("HTTP 502", Answer(502, "<html>bad gateway</html>"), StatusCode::kRetryable);
  add("HTTP 503 with Retry-After: 2", Answer(503, Reason(503), {{"Retry-After", "2"}}),
      StatusCode::kRetryable, 2000);
  add("HTTP 504", Answer(504, Reason(504)), StatusCode::kRetryable);
  return rows;
}

WebhookDelivery ReferenceWebhook(const std::string& event, const std::string& entity_id,
                                 const std::string& data_json) {
  WebhookDelivery delivery;
  delivery.headers = {{"Content-Type", "application/json"}, {"X-CRM-Event", event}};
  Poco::JSON::Object body;
  body.set("event", event);
  body.set("entityId", entity_id);
  std::ostringstream out;
  body.stringify(out);
  std::string text = out.str();
  // Splice the data object in as given, so its exact text reaches the plugin.
  text.pop_back();
  text += ",\"data\":" + data_json + "}";
  delivery.body = text;
  return delivery;
}

bool FlattenJson(const std::string& json, std::map<std::string, std::string>* leaves) {
  leaves->clear();
  try {
    Poco::Dynamic::Var value = Poco::JSON::Parser().parse(json);
    if (value.type() != typeid(Poco::JSON::Object::Ptr) &&
        value.type() != typeid(Poco::JSON::Array::Ptr)) {
      return false;
    }
    Flatten(value, "", leaves);
    return true;
  } catch (const Poco::Exception&) {
    return false;
  } catch (const std::exception&) {
    return false;
  }
}

std::string JsonAtPointer(const std::string& pointer, const std::string& value) {
  std::vector<std::string> parts;
  std::string part;
  for (size_t i = 1; i <= pointer.size(); ++i) {
    if (i == pointer.size() || pointer[i] == '/') {
      parts.push_back(part);
      part.clear();
    } else {
      part += pointer[i];
    }
  }
  Poco::Dynamic::Var node = value;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    Poco::JSON::Object::Ptr object = new Poco::JSON::Object();
    object->set(*it, node);
    node = object;
  }
  if (parts.empty()) return "{}";
  std::ostringstream out;
  node.extract<Poco::JSON::Object::Ptr>()->stringify(out);
  return out.str();
}

}  // namespace crmsync::engine::conformance
