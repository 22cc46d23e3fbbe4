// The mapping half of mock-crm; see mock_crm_mapper.h.
#include "mock_crm_mapper.h"

#include <cstdio>
#include <vector>

#include <Poco/JSON/Array.h>

#include "crm_vocabulary.h"
#include "crmsync/classify.h"
#include "json_util.h"

namespace crmsync::mockcrm {
namespace {

constexpr char kLeadsPath[] = "/api/v1/leads";
constexpr char kPropertiesPath[] = "/api/v1/properties";

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string UrlEncode(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      char escaped[4];
      std::snprintf(escaped, sizeof(escaped), "%%%02X", c);
      out += escaped;
    }
  }
  return out;
}

// The reference the CRM knows the record by: the engine's, else "<kind>:<id>".
std::string ReferenceOf(const SyncJob& job) {
  if (!job.external_reference.empty()) return job.external_reference;
  return std::string(EntityKindName(job.entity_kind)) + ":" + job.entity_id;
}

void SetIf(Poco::JSON::Object::Ptr object, const char* key,
           const std::optional<std::string>& value) {
  if (value) object->set(key, *value);
}

// The lead a lead-shaped job is about, with a dealer assignment applied. *whole
// is false when the job carries only the assignment, not the lead itself.
bool LeadOf(const SyncJob& job, Lead* out, bool* whole) {
  *whole = true;
  if (job.lead) {
    *out = *job.lead;
  } else if (job.inquiry) {
    *out = job.inquiry->lead;
  } else if (job.assignment) {
    *out = Lead();
    out->id = job.assignment->lead_id;
    *whole = false;
  } else {
    return false;
  }
  if (out->id.empty()) out->id = job.entity_id;
  if (job.assignment) out->assigned_to_id = job.assignment->dealer_id;
  return true;
}

// The CRM id of `role` in job.related, or nullopt.
std::optional<std::string> Related(const SyncJob& job, const char* role) {
  auto it = job.related.find(role);
  if (it == job.related.end()) return std::nullopt;
  return it->second;
}

// The property job.related["property"] is the CRM id of: the inquiry's
// propertyId, else the lead's.
std::optional<std::string> RelatedPropertyOf(const SyncJob& job, const Lead& lead) {
  if (job.inquiry && job.inquiry->property_id) return job.inquiry->property_id;
  return lead.property_id;
}

// A partial lead (`whole` false) leaves out the empty preferredAreas, so an
// assignment does not clear the areas the CRM holds. relatedProperty and
// assignedAgent are the CRM's ids (SyncJob::related); assignedAgent falls back
// to the platform's dealer id when no CRM user matched it.
Poco::JSON::Object::Ptr LeadBody(const SyncJob& job, const Lead& lead,
                                 const std::string& reference, bool whole) {
  Poco::JSON::Object::Ptr body = NewObject();
  SetIf(body, "name", lead.name);
  SetIf(body, "email", lead.email);
  SetIf(body, "phone", lead.phone);
  SetIf(body, "source", lead.source);
  if (lead.status) body->set("status", std::string(CrmLeadStatus(*lead.status)));
  if (lead.budget_min || lead.budget_max) {
    Poco::JSON::Object::Ptr range = NewObject();
    if (lead.budget_min) range->set("min", *lead.budget_min);
    if (lead.budget_max) range->set("max", *lead.budget_max);
    body->set("budgetRange", range);
  }
  if (whole || !lead.preferred_location.empty()) {
    Poco::JSON::Array::Ptr areas = new Poco::JSON::Array();
    for (const std::string& area : lead.preferred_location) areas->add(area);
    body->set("preferredAreas", areas);
  }
  body->set("externalReference", reference);
  const std::optional<std::string> agent = Related(job, "agent");
  SetIf(body, "assignedAgent", agent ? agent : lead.assigned_to_id);
  SetIf(body, "notes", lead.notes);
  if (lead.status == LeadStatus::kLost) SetIf(body, "lostReason", lead.lost_reason);
  SetIf(body, "utmSource", lead.utm_source);
  SetIf(body, "createdDate", lead.created_at);
  SetIf(body, "propertyId", lead.property_id);
  if (lead.property_id && RelatedPropertyOf(job, lead) == lead.property_id) {
    SetIf(body, "relatedProperty", Related(job, "property"));
  }
  return body;
}

// The keys of mock-crm's body that carry a platform field; none for a field
// mock-crm does not hold (ids, updatedAt).
std::vector<std::string> CrmKeysOf(EntityKind kind, const std::string& field) {
  if (kind == EntityKind::kProperty) {
    if (field == "city" || field == "locality") return {"location"};
    if (field == "ownerId") return {"owner"};
    if (field == "dealerId") return {"assignedAgent"};
    if (field == "title" || field == "price" || field == "status") return {field};
    return {};
  }
  if (field == "budgetMin" || field == "budgetMax") return {"budgetRange"};
  if (field == "preferredLocation") return {"preferredAreas"};
  if (field == "assignedToId") return {"assignedAgent"};
  if (field == "createdAt") return {"createdDate"};
  if (field == "propertyId") return {"propertyId", "relatedProperty"};
  for (const char* same : {"name", "email", "phone", "source", "status", "notes", "lostReason",
                           "utmSource"}) {
    if (field == same) return {field};
  }
  return {};
}

// An update sends what the job changed (SyncJob::changed_fields), cut from
// the whole body: mock-crm's PUT merges, so a key left out is kept. A field the
// platform cleared (absent from `entity_json`, the entity's wire form) goes as
// null, or [] for the areas, the CRM's empty list. Without a changed list the
// body goes whole.
Poco::JSON::Object::Ptr ChangedOnly(const SyncJob& job, const std::string& entity_json,
                                    const Poco::JSON::Object::Ptr& whole) {
  if (!job.changed_fields) return whole;
  std::string error;
  Poco::JSON::Object::Ptr entity = ParseObject(entity_json, &error);
  Poco::JSON::Object::Ptr body = NewObject();
  for (const std::string& field : *job.changed_fields) {
    for (const std::string& key : CrmKeysOf(job.entity_kind, field)) {
      if (body->has(key)) continue;
      if (whole->has(key)) {
        body->set(key, whole->get(key));
      } else if (entity && !entity->has(field)) {
        if (key == "preferredAreas") {
          body->set(key, Poco::JSON::Array::Ptr(new Poco::JSON::Array()));
        } else {
          body->set(key, Poco::Dynamic::Var());
        }
      }
    }
  }
  body->set("externalReference", whole->get("externalReference"));
  return body;
}

// The strategy's property fields: location {city, locality}, owner,
// assignedAgent (the CRM user matched to dealerId, SyncJob::related
// ["propertyAgent"], else the dealer id), internalId (the platform's id).
Poco::JSON::Object::Ptr PropertyBody(const SyncJob& job, const Property& property,
                                     const std::string& reference) {
  Poco::JSON::Object::Ptr body = NewObject();
  SetIf(body, "title", property.title);
  if (property.price) body->set("price", *property.price);
  if (property.city || property.locality) {
    Poco::JSON::Object::Ptr location = NewObject();
    SetIf(location, "city", property.city);
    SetIf(location, "locality", property.locality);
    body->set("location", location);
  }
  if (property.status) body->set("status", std::string(CrmPropertyStatus(*property.status)));
  SetIf(body, "owner", property.owner_id);
  const std::optional<std::string> agent = Related(job, "propertyAgent");
  SetIf(body, "assignedAgent", agent ? agent : property.dealer_id);
  body->set("internalId", property.id.empty() ? job.entity_id : property.id);
  body->set("externalReference", reference);
  return body;
}

Status ActivityBody(const SyncJob& job, const Lead& lead, Poco::JSON::Object::Ptr* out) {
  Poco::JSON::Object::Ptr body = NewObject();
  if (job.event_type == EventType::kInquirySubmitted && job.inquiry) {
    body->set("type", std::string("inquiry"));
    body->set("message", job.inquiry->message.value_or(""));
    body->set("inquiryId", job.inquiry->id);
    SetIf(body, "propertyId", job.inquiry->property_id);
    SetIf(body, "relatedProperty", Related(job, "property"));
  } else if (lead.status == LeadStatus::kViewingScheduled) {
    body->set("type", std::string("viewing_scheduled"));
    body->set("note", lead.notes.value_or("Viewing scheduled"));
    SetIf(body, "propertyId", lead.property_id);
  } else if (lead.status == LeadStatus::kViewed) {
    body->set("type", std::string("viewed"));
    body->set("note", lead.notes.value_or("Property viewed"));
    SetIf(body, "propertyId", lead.property_id);
  } else {
    return Status::Permanent("mock-crm has no activity for this " +
                             std::string(EventTypeName(job.event_type)) + " job");
  }
  *out = body;
  return Status::Ok();
}

Poco::JSON::Object::Ptr DealBody(const SyncJob& job, const Lead& lead,
                                 const std::string& external_id) {
  Poco::JSON::Object::Ptr body = NewObject();
  body->set("title", "Deal: " + lead.name.value_or(ReferenceOf(job)));
  if (lead.budget_max) {
    body->set("amount", *lead.budget_max);
  } else if (job.property && job.property->price) {
    body->set("amount", *job.property->price);
  }
  body->set("leadId", external_id);
  SetIf(body, "propertyId", lead.property_id);
  return body;
}

// Copies data[crm_key] to fields[platform_key] when present and a string.
Status CopyString(const Poco::JSON::Object::Ptr& data, const char* crm_key,
                  const char* platform_key, Poco::JSON::Object::Ptr fields) {
  if (!data->has(crm_key) || data->isNull(crm_key)) return Status::Ok();
  const Poco::Dynamic::Var value = data->get(crm_key);
  if (!value.isString()) {
    return Status::InvalidRecord(std::string("webhook data.") + crm_key + " must be a string");
  }
  fields->set(platform_key, value.extract<std::string>());
  return Status::Ok();
}

Status CopyNumber(const Poco::JSON::Object::Ptr& data, const char* crm_key, const char* path,
                  const char* platform_key, Poco::JSON::Object::Ptr fields) {
  if (!data->has(crm_key) || data->isNull(crm_key)) return Status::Ok();
  const Poco::Dynamic::Var value = data->get(crm_key);
  if (!IsNumber(value)) {
    return Status::InvalidRecord(std::string("webhook ") + path + " must be a number");
  }
  fields->set(platform_key, value.convert<double>());
  return Status::Ok();
}

Status LeadFieldsFromCrm(const Poco::JSON::Object::Ptr& data, Poco::JSON::Object::Ptr fields) {
  if (data->has("status") && !data->isNull("status")) {
    const std::optional<std::string> word = GetString(data, "status");
    LeadStatus status = LeadStatus::kNew;
    if (!word) return Status::InvalidRecord("webhook data.status must be a string");
    if (!ParseCrmLeadStatus(*word, &status)) {
      return Status::InvalidRecord("webhook data.status: unknown lead status '" + *word + "'");
    }
    fields->set("status", std::string(LeadStatusName(status)));
  }
  static const char* const kSame[][2] = {
      {"name", "name"},
      {"email", "email"},
      {"phone", "phone"},
      {"source", "source"},
      {"notes", "notes"},
      {"assignedAgent", "assignedToId"},
      {"lostReason", "lostReason"},
      {"utmSource", "utmSource"},
  };
  for (const auto& pair : kSame) {
    Status status = CopyString(data, pair[0], pair[1], fields);
    if (!status.ok()) return status;
  }
  if (data->has("budgetRange") && !data->isNull("budgetRange")) {
    if (data->get("budgetRange").type() != typeid(Poco::JSON::Object::Ptr)) {
      return Status::InvalidRecord("webhook data.budgetRange must be an object");
    }
    Poco::JSON::Object::Ptr range = data->getObject("budgetRange");
    Status status = CopyNumber(range, "min", "data.budgetRange.min", "budgetMin", fields);
    if (status.ok()) status = CopyNumber(range, "max", "data.budgetRange.max", "budgetMax", fields);
    if (!status.ok()) return status;
  }
  if (data->has("preferredAreas") && !data->isNull("preferredAreas")) {
    if (data->get("preferredAreas").type() != typeid(Poco::JSON::Array::Ptr)) {
      return Status::InvalidRecord("webhook data.preferredAreas must be an array");
    }
    Poco::JSON::Array::Ptr areas = data->getArray("preferredAreas");
    Poco::JSON::Array::Ptr out = new Poco::JSON::Array();
    for (unsigned int i = 0; i < areas->size(); ++i) {
      if (!areas->get(i).isString()) {
        return Status::InvalidRecord("webhook data.preferredAreas[" + std::to_string(i) +
                                     "] must be a string");
      }
      out->add(areas->get(i));
    }
    fields->set("preferredLocation", out);
  }
  return Status::Ok();
}

Status PropertyFieldsFromCrm(const Poco::JSON::Object::Ptr& data, Poco::JSON::Object::Ptr fields) {
  if (data->has("status") && !data->isNull("status")) {
    const std::optional<std::string> word = GetString(data, "status");
    PropertyStatus status = PropertyStatus::kActive;
    if (!word) return Status::InvalidRecord("webhook data.status must be a string");
    if (!ParseCrmPropertyStatus(*word, &status)) {
      return Status::InvalidRecord("webhook data.status: unknown property status '" + *word + "'");
    }
    fields->set("status", std::string(PropertyStatusName(status)));
  }
  // The strategy's keys (location, owner) and the flat ones of before.
  static const char* const kSame[][2] = {
      {"title", "title"},     {"city", "city"},     {"locality", "locality"},
      {"ownerId", "ownerId"}, {"owner", "ownerId"}, {"dealerId", "dealerId"},
  };
  for (const auto& pair : kSame) {
    Status status = CopyString(data, pair[0], pair[1], fields);
    if (!status.ok()) return status;
  }
  if (data->has("location") && !data->isNull("location")) {
    if (data->get("location").type() != typeid(Poco::JSON::Object::Ptr)) {
      return Status::InvalidRecord("webhook data.location must be an object");
    }
    Poco::JSON::Object::Ptr location = data->getObject("location");
    for (const char* part : {"city", "locality"}) {
      if (!location->has(part) || location->isNull(part)) continue;
      if (!location->get(part).isString()) {
        return Status::InvalidRecord(std::string("webhook data.location.") + part +
                                     " must be a string");
      }
      fields->set(part, location->getValue<std::string>(part));
    }
  }
  return CopyNumber(data, "price", "data.price", "price", fields);
}

// The platform fields every record of `kind` holds in mock-crm, read back.
const std::vector<std::string>& RecordFields(EntityKind kind) {
  static const std::vector<std::string> kLead = {
      "name",      "email",     "phone",     "source",            "status",    "assignedToId",
      "budgetMin", "budgetMax", "notes",     "preferredLocation", "utmSource", "lostReason",
      "createdAt", "propertyId"};
  static const std::vector<std::string> kProperty = {"title",  "price",   "city",    "locality",
                                                     "status", "ownerId", "dealerId"};
  return kind == EntityKind::kLead ? kLead : kProperty;
}

// One stored record (a list item or a read's answer) as a CrmRecord.
Status RecordFromCrm(EntityKind kind, const Poco::Dynamic::Var& item, const std::string& where,
                     CrmRecord* out) {
  if (item.type() != typeid(Poco::JSON::Object::Ptr)) {
    return Status::Retryable("mock-crm: " + where + ": expected a record (an object)");
  }
  const Poco::JSON::Object::Ptr data = item.extract<Poco::JSON::Object::Ptr>();
  const std::optional<std::string> id = GetString(data, "id");
  if (!id || id->empty()) {
    return Status::Retryable("mock-crm: " + where + ": expected the record's id (a string)");
  }
  Poco::JSON::Object::Ptr fields = NewObject();
  Status status = kind == EntityKind::kLead ? LeadFieldsFromCrm(data, fields)
                                            : PropertyFieldsFromCrm(data, fields);
  // What a webhook does not carry back.
  const char* const kExtra[][2] = {{"propertyId", "propertyId"}, {"createdDate", "createdAt"}};
  for (const auto& pair : kExtra) {
    if (status.ok() && kind == EntityKind::kLead) status = CopyString(data, pair[0], pair[1], fields);
  }
  if (status.ok() && kind == EntityKind::kProperty) {
    status = CopyString(data, "assignedAgent", "dealerId", fields);
  }
  if (!status.ok()) {
    return Status::Retryable("mock-crm: " + where + " (" + *id + "): " + status.message());
  }
  for (const std::string& name : RecordFields(kind)) {
    const bool empty =
        !fields->has(name) || fields->isNull(name) ||
        (fields->get(name).isString() && fields->getValue<std::string>(name).empty()) ||
        (fields->get(name).type() == typeid(Poco::JSON::Array::Ptr) &&
         fields->getArray(name)->size() == 0);
    if (empty) fields->set(name, Poco::Dynamic::Var());  // the CRM holds nothing there
  }
  CrmRecord record;
  record.entity_kind = kind;
  record.external_id = *id;
  record.external_reference = GetString(data, "externalReference").value_or("");
  record.fields_json = ToJson(fields);
  *out = std::move(record);
  return Status::Ok();
}

std::string CollectionPath(EntityKind kind) {
  return kind == EntityKind::kLead ? kLeadsPath : kPropertiesPath;
}

// The record kind a CRM event is about; false for events mock-crm ignores.
bool KindOfEvent(const std::string& event, EntityKind* kind) {
  const size_t dot = event.find('.');
  if (dot == std::string::npos) return false;
  const std::string prefix = event.substr(0, dot);
  const std::string action = event.substr(dot + 1);
  if (action != "created" && action != "updated" && action != "status_changed" &&
      action != "assigned") {
    return false;
  }
  return ParseEntityKind(prefix, kind);
}

}  // namespace

void MockCrmMapper::SetCredentials(const std::string& api_key, const std::string& api_secret) {
  api_key_ = api_key;
  api_secret_ = api_secret;
}

void MockCrmMapper::AddCredentials(HttpRequest* request) const {
  if (!api_key_.empty()) request->headers.emplace_back("X-API-Key", api_key_);
  if (!api_secret_.empty()) request->headers.emplace_back("X-API-Secret", api_secret_);
}

Status MockCrmMapper::BuildRequest(const SyncJob& job, StepKind step, HttpRequest* out) {
  HttpRequest request;
  const std::string reference = ReferenceOf(job);
  const bool needs_id = step != StepKind::kCreate;
  if (needs_id && (!job.external_id || job.external_id->empty())) {
    return Status::Permanent(std::string("mock-crm: ") + StepKindName(step) +
                             " needs the record's external id");
  }
  const std::string id_path = needs_id ? "/" + UrlEncode(*job.external_id) : "";

  if (job.entity_kind == EntityKind::kProperty) {
    if (!job.property) return Status::Permanent("mock-crm: property job carries no property");
    if (step == StepKind::kActivity || step == StepKind::kDeal) {
      return Status::Permanent(std::string("mock-crm: a property has no ") + StepKindName(step));
    }
    request.method = step == StepKind::kCreate ? "POST" : "PUT";
    request.path = kPropertiesPath + id_path;
    request.route = step == StepKind::kCreate ? "property.create" : "property.update";
    Poco::JSON::Object::Ptr body = PropertyBody(job, *job.property, reference);
    request.body = ToJson(
        step == StepKind::kUpdate ? ChangedOnly(job, EncodeProperty(*job.property), body) : body);
  } else {
    Lead lead;
    bool whole = true;
    if (!LeadOf(job, &lead, &whole)) return Status::Permanent("mock-crm: lead job carries no lead");
    switch (step) {
      case StepKind::kCreate:
      case StepKind::kUpdate: {
        request.method = step == StepKind::kCreate ? "POST" : "PUT";
        request.path = kLeadsPath + id_path;
        request.route = step == StepKind::kCreate ? "lead.create" : "lead.update";
        Poco::JSON::Object::Ptr body = LeadBody(job, lead, reference, whole);
        request.body =
            ToJson(step == StepKind::kUpdate ? ChangedOnly(job, EncodeLead(lead), body) : body);
        break;
      }
      case StepKind::kActivity: {
        Poco::JSON::Object::Ptr body;
        Status status = ActivityBody(job, lead, &body);
        if (!status.ok()) return status;
        request.method = "POST";
        request.path = kLeadsPath + id_path + "/activities";
        request.route = "lead.activity";
        request.body = ToJson(body);
        break;
      }
      case StepKind::kDeal:
        request.method = "POST";
        request.path = kLeadsPath + id_path + "/deals";
        request.route = "lead.deal";
        request.body = ToJson(DealBody(job, lead, *job.external_id));
        break;
    }
  }
  request.content_type = "application/json";
  AddCredentials(&request);
  *out = std::move(request);
  return Status::Ok();
}

Status MockCrmMapper::ReadResponse(const SyncJob&, StepKind step, const HttpResponse& response,
                                   StepResult* out) {
  *out = StepResult();
  if (step == StepKind::kActivity || step == StepKind::kDeal) return Status::Ok();
  std::string error;
  Poco::JSON::Object::Ptr body = ParseObject(response.body, &error);
  const std::optional<std::string> id = GetString(body, "id");
  if (id && !id->empty()) {
    out->external_id = *id;
    return Status::Ok();
  }
  if (step == StepKind::kCreate) {
    return Status::Permanent("mock-crm: create answer has no id (" +
                             (body ? std::string("no \"id\" string") : error) + ")");
  }
  return Status::Ok();
}

void MockCrmMapper::BuildUserList(HttpRequest* out) const {
  HttpRequest request;
  request.method = "GET";
  request.path = "/api/v1/users";
  request.route = "user.list";
  request.content_type = "application/json";
  AddCredentials(&request);
  *out = std::move(request);
}

Status MockCrmMapper::ReadUserList(const HttpResponse& response,
                                   std::vector<CrmUser>* users) const {
  std::string error;
  Poco::JSON::Object::Ptr body = ParseObject(response.body, &error);
  if (!body) return Status::Permanent("mock-crm: unreadable user list: " + error);
  if (!body->has("results") || body->get("results").type() != typeid(Poco::JSON::Array::Ptr)) {
    return Status::Permanent("mock-crm: user list has no results array");
  }
  Poco::JSON::Array::Ptr results = body->getArray("results");
  for (unsigned int i = 0; i < results->size(); ++i) {
    Poco::JSON::Object::Ptr item = results->getObject(i);
    const std::optional<std::string> id = item ? GetString(item, "id") : std::nullopt;
    if (!id || id->empty()) {
      return Status::Permanent("mock-crm: user list results[" + std::to_string(i) +
                               "] has no id");
    }
    CrmUser user;
    user.id = *id;
    user.email = GetString(item, "email").value_or("");
    user.platform_id = GetString(item, "platformId").value_or("");
    user.active = !item->has("active") || !item->get("active").isBoolean() ||
                  item->getValue<bool>("active");
    users->push_back(std::move(user));
  }
  return Status::Ok();
}

Status MockCrmMapper::BuildLookup(const SyncJob& job, HttpRequest* out) {
  HttpRequest request;
  const bool property = job.entity_kind == EntityKind::kProperty;
  request.method = "GET";
  request.path = std::string(property ? kPropertiesPath : kLeadsPath) +
                 "?externalReference=" + UrlEncode(ReferenceOf(job));
  request.route = property ? "property.lookup" : "lead.lookup";
  request.content_type = "application/json";
  AddCredentials(&request);
  *out = std::move(request);
  return Status::Ok();
}

Status MockCrmMapper::ReadLookup(const SyncJob& job, const HttpResponse& response,
                                 std::optional<std::string>* external_id) {
  external_id->reset();
  if (response.error == TransportError::kNone && response.status == 404) return Status::Ok();
  if (response.error != TransportError::kNone || response.status < 200 || response.status > 299) {
    Status status = DefaultClassify(response);
    return status.ok() ? Status::Permanent("mock-crm: unexpected lookup answer") : status;
  }
  std::string error;
  Poco::JSON::Object::Ptr body = ParseObject(response.body, &error);
  if (!body) return Status::Permanent("mock-crm: unreadable lookup answer: " + error);
  if (!body->has("results") || body->get("results").type() != typeid(Poco::JSON::Array::Ptr)) {
    return Status::Permanent("mock-crm: lookup answer has no results array");
  }
  const std::string reference = ReferenceOf(job);
  Poco::JSON::Array::Ptr results = body->getArray("results");
  for (unsigned int i = 0; i < results->size(); ++i) {
    Poco::JSON::Object::Ptr item = results->getObject(i);
    const std::optional<std::string> id = GetString(item, "id");
    if (!id || id->empty()) continue;
    const std::optional<std::string> item_reference = GetString(item, "externalReference");
    if (item_reference && *item_reference != reference) continue;
    *external_id = *id;
    return Status::Ok();
  }
  return Status::Ok();
}

Status MockCrmMapper::ParseWebhook(const WebhookDelivery& delivery,
                                   std::vector<InboundChange>* changes) {
  changes->clear();
  std::string error;
  Poco::JSON::Object::Ptr body = ParseObject(delivery.body, &error);
  if (!body) return Status::InvalidRecord("webhook " + error);
  const std::optional<std::string> event = GetString(body, "event");
  if (!event || event->empty()) return Status::InvalidRecord("webhook body has no event");
  EntityKind kind = EntityKind::kLead;
  if (!KindOfEvent(*event, &kind)) return Status::Ok();
  const std::optional<std::string> entity_id = GetString(body, "entityId");
  if (!entity_id || entity_id->empty()) {
    return Status::InvalidRecord("webhook body has no entityId");
  }

  Poco::JSON::Object::Ptr data = NewObject();
  if (body->has("data") && !body->isNull("data")) {
    if (body->get("data").type() != typeid(Poco::JSON::Object::Ptr)) {
      return Status::InvalidRecord("webhook data must be an object");
    }
    data = body->getObject("data");
  }
  Poco::JSON::Object::Ptr fields = NewObject();
  Status status = kind == EntityKind::kLead ? LeadFieldsFromCrm(data, fields)
                                            : PropertyFieldsFromCrm(data, fields);
  if (!status.ok()) return status;

  InboundChange change;
  change.crm_event = *event;
  change.entity_kind = kind;
  change.external_id = *entity_id;
  change.fields_json = ToJson(fields);
  if (data->has("updatedAt") && !data->isNull("updatedAt")) {
    const std::optional<std::string> updated_at = GetString(data, "updatedAt");
    if (!updated_at) return Status::InvalidRecord("webhook data.updatedAt must be a string");
    change.updated_at = *updated_at;
  }
  changes->push_back(std::move(change));
  return Status::Ok();
}

void MockCrmMapper::BuildRecordList(EntityKind kind, const std::string& cursor,
                                    HttpRequest* out) const {
  HttpRequest request;
  request.method = "GET";
  request.path = CollectionPath(kind) + "?limit=" + std::to_string(records_page_size_);
  if (!cursor.empty()) request.path += "&cursor=" + UrlEncode(cursor);
  request.route = std::string(EntityKindName(kind)) + ".list";
  AddCredentials(&request);
  *out = std::move(request);
}

Status MockCrmMapper::ReadRecordList(EntityKind kind, const HttpResponse& response,
                                     RecordListPage* page) const {
  std::string error;
  Poco::JSON::Object::Ptr body = ParseObject(response.body, &error);
  if (!body) return Status::Retryable("mock-crm: record list: " + error);
  Poco::JSON::Array::Ptr results;
  if (body->has("results") && body->get("results").type() == typeid(Poco::JSON::Array::Ptr)) {
    results = body->getArray("results");
  }
  if (!results) return Status::Retryable("mock-crm: record list: expected an array at results");
  std::vector<CrmRecord> records;
  for (unsigned int i = 0; i < results->size(); ++i) {
    CrmRecord record;
    Status status = RecordFromCrm(kind, results->get(i),
                                  "record list results[" + std::to_string(i) + "]", &record);
    if (!status.ok()) return status;
    records.push_back(std::move(record));
  }
  const std::optional<std::string> next = GetString(body, "nextCursor");
  if (body->has("nextCursor") && !body->isNull("nextCursor") && !next) {
    return Status::Retryable("mock-crm: record list: nextCursor must be a string");
  }
  page->records = std::move(records);
  page->more = next.has_value() && !next->empty();
  page->next_cursor = page->more ? *next : "";
  return Status::Ok();
}

void MockCrmMapper::BuildRecordRead(EntityKind kind, const std::string& id,
                                    HttpRequest* out) const {
  HttpRequest request;
  request.method = "GET";
  request.path = CollectionPath(kind) + "/" + UrlEncode(id);
  request.route = std::string(EntityKindName(kind)) + ".read";
  AddCredentials(&request);
  *out = std::move(request);
}

Status MockCrmMapper::ReadRecordAnswer(EntityKind kind, const HttpResponse& response,
                                       CrmRecord* out) const {
  std::string error;
  Poco::JSON::Object::Ptr body = ParseObject(response.body, &error);
  if (!body) return Status::Retryable("mock-crm: record read: " + error);
  return RecordFromCrm(kind, Poco::Dynamic::Var(body), "record read", out);
}

Status MockCrmMapper::BuildWebhookRegistration(const WebhookRegistration& registration,
                                               HttpRequest* out) {
  if (registration.url.empty()) return Status::Permanent("mock-crm: webhook url is empty");
  Poco::JSON::Object::Ptr body = NewObject();
  body->set("url", registration.url);
  Poco::JSON::Array::Ptr events = new Poco::JSON::Array();
  for (const std::string& event : registration.events) events->add(event);
  body->set("events", events);
  body->set("secret", registration.secret);
  HttpRequest request;
  request.method = "POST";
  request.path = "/api/v1/webhooks";
  request.route = "webhook.register";
  request.body = ToJson(body);
  request.content_type = "application/json";
  AddCredentials(&request);
  *out = std::move(request);
  return Status::Ok();
}

}  // namespace crmsync::mockcrm
