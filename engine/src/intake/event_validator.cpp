// Envelope validation; see event_validator.h.
#include "intake/event_validator.h"

#include "common/hash.h"
#include "crmsync/entities_json.h"

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

bool ValidTimestamp(const std::string& ts) {
  static const std::regex kIso(
      R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$)");
  return std::regex_match(ts, kIso);
}

std::string TypeList() {
  std::string list;
  for (EventType t : AllEventTypes()) {
    if (!list.empty()) list += ", ";
    list += EventTypeName(t);
  }
  return list;
}

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
             !ValidTimestamp(env->getValue<std::string>("occurredAt"))) {
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
    const std::string data_path = path + ".data";
    const Object& data = *env->getObject("data");
    event.kind = EntityKindOf(event.type);
    switch (event.type) {
      case EventType::kPropertyCreated:
      case EventType::kPropertyUpdated: {
        Property property;
        if (DecodeProperty(data, data_path, &property, &result->errors)) {
          event.entity_id = property.id;
          event.entity_json = EncodeProperty(property);
          event.echo_hash = EchoHash(property);
          event.coalescable = true;
        } else {
          ok = false;
        }
        break;
      }
      case EventType::kLeadCreated:
      case EventType::kLeadStatusChanged: {
        Lead lead;
        bool decoded = DecodeLead(data, data_path, &lead, &result->errors);
        // Checked apart from decoding, so it is reported beside the lead's other errors.
        Object::Ptr data_object = env->getObject("data");
        if (event.type == EventType::kLeadStatusChanged &&
            (!data_object->has("status") || data_object->isNull("status"))) {
          error(".data.status", "required for lead.status_changed");
          ok = false;
        }
        if (decoded) {
          event.entity_id = lead.id;
          event.entity_json = EncodeLead(lead);
          event.echo_hash = EchoHash(lead);
          LeadStatus status = lead.status.value_or(LeadStatus::kNew);
          event.coalescable = event.type == EventType::kLeadCreated ||
                              (status != LeadStatus::kViewingScheduled &&
                               status != LeadStatus::kViewed && status != LeadStatus::kConverted);
        } else {
          ok = false;
        }
        break;
      }
      case EventType::kInquirySubmitted: {
        Inquiry inquiry;
        if (DecodeInquiry(data, data_path, &inquiry, &result->errors)) {
          event.entity_id = inquiry.lead_id;
          event.entity_json = EncodeLead(inquiry.lead);
          event.inquiry_id = inquiry.id;
          event.inquiry_json = EncodeInquiry(inquiry);
          event.coalescable = false;
        } else {
          ok = false;
        }
        break;
      }
      case EventType::kDealerAssigned: {
        DealerAssignment assignment;
        if (DecodeDealerAssignment(data, data_path, &assignment, &result->errors)) {
          event.entity_id = assignment.lead_id;
          event.assignment = assignment;
          event.coalescable = true;
        } else {
          ok = false;
        }
        break;
      }
    }
  }
  if (ok) result->events.push_back(std::move(event));
}

}  // namespace

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
