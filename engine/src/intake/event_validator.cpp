// Envelope validation; see event_validator.h.
#include "intake/event_validator.h"

#include "crmsync/entities_json.h"

#include <algorithm>
#include <initializer_list>
#include <regex>
#include <sstream>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

namespace crmsync::engine {
namespace {

using Poco::JSON::Object;

bool ValidEventId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (unsigned char c : id) {
    if (!(std::isalnum(c) || c == '_' || c == '.' || c == ':' || c == '-')) return false;
  }
  return true;
}

// The patch `data` carries (docs/events.md): each field present in `data` as
// the codec read it into `decoded` (ids as text, numbers normalised), null
// where the platform cleared it; fields the entity does not have are dropped.
// "id" is always present: the decoders require it.
std::string PatchOf(const Object& data, const std::string& decoded, EntityKind kind) {
  const std::vector<std::string>& fields = WireFields(kind);
  Object::Ptr read = Poco::JSON::Parser().parse(decoded).extract<Object::Ptr>();
  Object patch;
  for (const auto& [key, value] : data) {
    if (std::find(fields.begin(), fields.end(), key) == fields.end()) continue;
    if (value.isEmpty()) {
      patch.set(key, Poco::Dynamic::Var());
    } else {
      // Only an empty list is valid yet not written by the encoder.
      patch.set(key, read->has(key) ? read->get(key) : value);
    }
  }
  std::ostringstream out;
  patch.stringify(out);
  return out.str();
}

// A null where a field cannot be cleared is refused at its path (in place of
// the decoder's "is required" for the same path).
void RefuseClears(const Object& data, const std::string& data_path,
                  std::initializer_list<const char*> keys, std::vector<FieldError>* errors) {
  static const char kMessage[] =
      "cannot be cleared (null); data is a patch: leave a field out to keep it unchanged";
  for (const char* key : keys) {
    if (!data.has(key) || !data.isNull(key)) continue;
    const std::string field_path = data_path + "." + key;
    bool replaced = false;
    for (FieldError& e : *errors) {
      if (e.path == field_path) {
        e.message = kMessage;
        replaced = true;
      }
    }
    if (!replaced) errors->push_back({field_path, kMessage});
  }
}

std::string TypeList() {
  std::string list;
  for (EventType t : AllEventTypes()) {
    if (!list.empty()) list += ", ";
    list += EventTypeName(t);
  }
  return list;
}

}  // namespace

bool ValidateEventData(EventType type, const Object& data, const std::string& data_path,
                       IncomingEvent* event, std::vector<FieldError>* errors) {
  event->data_path = data_path;
  event->kind = EntityKindOf(type);
  const size_t errors_before = errors->size();
  switch (type) {
    case EventType::kPropertyCreated:
    case EventType::kPropertyUpdated: {
      Property property;
      if (DecodeProperty(data, data_path, &property, errors)) {
        event->entity_id = property.id;
        event->entity_json = PatchOf(data, EncodeProperty(property), EntityKind::kProperty);
        event->coalescable = true;
      }
      RefuseClears(data, data_path, {"id", "status"}, errors);
      break;
    }
    case EventType::kLeadCreated:
    case EventType::kLeadStatusChanged: {
      Lead lead;
      if (DecodeLead(data, data_path, &lead, errors)) {
        event->entity_id = lead.id;
        event->entity_json = PatchOf(data, EncodeLead(lead), EntityKind::kLead);
        LeadStatus status = lead.status.value_or(LeadStatus::kNew);
        event->coalescable = type == EventType::kLeadCreated ||
                            (status != LeadStatus::kViewingScheduled &&
                             status != LeadStatus::kViewed && status != LeadStatus::kConverted);
      }
      // What a status change is about: checked apart from decoding, so it is
      // reported beside the lead's other errors.
      if (type == EventType::kLeadStatusChanged &&
          (!data.has("status") || data.isNull("status"))) {
        errors->push_back({data_path + ".status", "required for lead.status_changed"});
      }
      RefuseClears(data, data_path, {"id", "status"}, errors);
      break;
    }
    case EventType::kInquirySubmitted: {
      Inquiry inquiry;
      if (DecodeInquiry(data, data_path, &inquiry, errors)) {
        event->entity_id = inquiry.lead_id;
        event->entity_json =
            PatchOf(*data.getObject("lead"), EncodeLead(inquiry.lead), EntityKind::kLead);
        event->inquiry_id = inquiry.id;
        event->inquiry_json = EncodeInquiry(inquiry);
        event->coalescable = false;
      }
      RefuseClears(data, data_path, {"id", "leadId", "lead"}, errors);
      Object::Ptr lead = data.getObject("lead");
      if (lead) RefuseClears(*lead, data_path + ".lead", {"id", "status"}, errors);
      break;
    }
    case EventType::kDealerAssigned: {
      DealerAssignment assignment;
      if (DecodeDealerAssignment(data, data_path, &assignment, errors)) {
        event->entity_id = assignment.lead_id;
        Lead patch;
        patch.id = assignment.lead_id;
        patch.assigned_to_id = assignment.dealer_id;
        event->entity_json = EncodeLead(patch);
        event->assignment = assignment;
        event->coalescable = true;
      }
      RefuseClears(data, data_path, {"leadId", "dealerId"}, errors);
      break;
    }
  }
  return errors->size() == errors_before;
}

namespace {

void ValidateEnvelope(const Object::Ptr& env, const std::string& path, ValidationResult* result) {
  auto error = [&](const std::string& field, const std::string& message) {
    result->errors.push_back({path + field, message});
  };
  IncomingEvent event;
  bool ok = true;

  if (!env->has("eventId") || env->isNull("eventId")) {
    error(".eventId", "required");
    ok = false;
  } else if (!env->get("eventId").isString()) {
    error(".eventId", "must be a string");
    ok = false;
  } else {
    event.event_id = env->getValue<std::string>("eventId");
    if (!ValidEventId(event.event_id)) {
      error(".eventId", "must be 1-128 characters of A-Z a-z 0-9 _ . : -");
      ok = false;
    }
  }

  bool type_known = false;
  if (!env->has("type") || env->isNull("type")) {
    error(".type", "required");
    ok = false;
  } else if (!env->get("type").isString()) {
    error(".type", "must be a string");
    ok = false;
  } else {
    std::string type = env->getValue<std::string>("type");
    type_known = ParseEventType(type, &event.type);
    if (!type_known) {
      error(".type", "unknown event type '" + type.substr(0, 64) + "'; expected one of " + TypeList());
      result->unknown_type = true;
      ok = false;
    }
  }

  if (!env->has("occurredAt") || env->isNull("occurredAt")) {
    error(".occurredAt", "required");
    ok = false;
  } else if (!env->get("occurredAt").isString() ||
             !IsEventTimestamp(env->getValue<std::string>("occurredAt"))) {
    error(".occurredAt", "must be an ISO 8601 time such as 2026-11-23T10:15:00Z");
    ok = false;
  } else {
    event.occurred_at = env->getValue<std::string>("occurredAt");
  }

  if (type_known) event.priority = DefaultPriority(event.type);
  if (env->has("priority") && !env->isNull("priority")) {
    if (!env->get("priority").isString() ||
        !ParsePriority(env->getValue<std::string>("priority"), &event.priority)) {
      error(".priority", "must be one of high, medium, low");
      ok = false;
    }
  }

  if (!env->has("data") || env->isNull("data")) {
    error(".data", "required");
    ok = false;
  } else if (env->getObject("data").isNull()) {
    error(".data", "must be an object");
    ok = false;
  } else if (type_known) {
    if (!ValidateEventData(event.type, *env->getObject("data"), path + ".data", &event,
                           &result->errors)) {
      ok = false;
    }
  }
  if (ok) result->events.push_back(std::move(event));
}

}  // namespace

bool IsEventTimestamp(const std::string& ts) {
  static const std::regex kIso(
      R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$)");
  return std::regex_match(ts, kIso);
}

ValidationResult ValidateEventsBody(const std::string& body) {
  ValidationResult result;
  Poco::Dynamic::Var root;
  try {
    Poco::JSON::Parser parser;
    parser.setDepth(kMaxJsonDepth);
    root = parser.parse(body);
  } catch (const Poco::Exception& e) {
    result.errors.push_back({"$", "not valid JSON (or nested deeper than " +
                                      std::to_string(kMaxJsonDepth) + "): " + e.message()});
    return result;
  }
  Object::Ptr object = root.type() == typeid(Object::Ptr) ? root.extract<Object::Ptr>() : nullptr;
  if (!object) {
    result.errors.push_back({"$", "must be an event envelope or {\"events\": [...]}"});
    return result;
  }
  if (!object->has("events")) {
    ValidateEnvelope(object, "$", &result);
    return result;
  }
  Poco::JSON::Array::Ptr events = object->getArray("events");
  if (!events) {
    result.errors.push_back({"$.events", "must be an array of event envelopes"});
    return result;
  }
  if (events->size() == 0) {
    result.errors.push_back({"$.events", "must hold at least one event"});
    return result;
  }
  if (events->size() > kMaxEventsPerRequest) {
    result.errors.push_back({"$.events", "holds " + std::to_string(events->size()) +
                                             " events; at most " +
                                             std::to_string(kMaxEventsPerRequest) + " per request"});
    return result;
  }
  for (size_t i = 0; i < events->size(); ++i) {
    std::string path = "$.events[" + std::to_string(i) + "]";
    Object::Ptr env = events->getObject(static_cast<unsigned>(i));
    if (!env) {
      result.errors.push_back({path, "must be an event envelope object"});
      continue;
    }
    ValidateEnvelope(env, path, &result);
  }
  return result;
}

}  // namespace crmsync::engine
