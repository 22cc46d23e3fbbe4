// CRM webhooks in, webhook registration out; see webhook_mapping.h.
#include "webhook_mapping.h"

#include <optional>
#include <string>

#include "context.h"
#include "request_builder.h"

namespace crmsync::genericrest {
namespace {

bool IsPlatformStatus(EntityKind kind, const std::string& name) {
  if (kind == EntityKind::kLead) {
    LeadStatus status = LeadStatus::kNew;
    return ParseLeadStatus(name, &status);
  }
  PropertyStatus status = PropertyStatus::kActive;
  return ParsePropertyStatus(name, &status);
}

Status ParseOne(const Mapping& mapping, const WebhookSpec& spec, const Var& body,
                const WebhookDelivery& delivery, const std::string& where,
                std::vector<InboundChange>* changes) {
  if (!IsObject(body)) return Status::InvalidRecord("webhook" + where + " must be a JSON object");
  std::string event;
  const std::optional<Var> event_value = ResolvePointer(body, spec.event_pointer);
  if (event_value && IsString(*event_value)) {
    event = event_value->extract<std::string>();
  } else if (!event_value || IsNull(*event_value)) {
    event = FindHeader(delivery.headers, "X-CRM-Event");
  }
  if (event.empty()) {
    return Status::InvalidRecord("webhook" + where + " has no event name at " + spec.event_pointer +
                                 " (a string) nor an X-CRM-Event header");
  }
  auto listed = spec.events.find(event);
  if (listed == spec.events.end()) return Status::Ok();  // not ours to handle
  const EntityKind kind = listed->second;
  const std::string entity = EntityKindName(kind);

  const std::optional<std::string> id = IdAt(body, spec.entity_id_pointer);
  if (!id) {
    return Status::InvalidRecord("webhook" + where + " has no CRM id (a string or number) at " +
                                 spec.entity_id_pointer);
  }
  Var data = Var(NewObject());
  const std::optional<Var> data_value = ResolvePointer(body, spec.data_pointer);
  if (data_value && !IsNull(*data_value)) {
    if (!IsObject(*data_value)) {
      return Status::InvalidRecord(
          "webhook" + where + " " +
          (spec.data_pointer.empty() ? std::string("body") : spec.data_pointer) +
          " must be an object");
    }
    data = *data_value;
  }
  JsonObject fields = NewObject();
  auto field_list = spec.fields.find(entity);
  if (field_list != spec.fields.end()) {
    const TransformTables tables = mapping.Tables(kind);
    for (const WebhookField& field : field_list->second) {
      const std::optional<Var> found = ResolvePointer(data, field.from);
      if (!found || IsNull(*found)) continue;
      Var value = DeepCopy(*found);
      Status status = ApplyTransforms(field.transforms, tables,
                                      "webhook" + where + " data" + field.from, &value);
      if (!status.ok()) return status;
      if (IsEmptyValue(value)) continue;
      if (field.platform_field == "status" &&
          (!IsString(value) || !IsPlatformStatus(kind, value.extract<std::string>()))) {
        return Status::InvalidRecord("webhook" + where + " data" + field.from + ": not a " +
                                     entity + " status (map it with statusIn)");
      }
      fields->set(field.platform_field, value);
    }
  }
  InboundChange change;
  change.crm_event = event;
  change.entity_kind = kind;
  change.external_id = *id;
  change.fields_json = ToJson(Var(fields));
  if (spec.updated_at_pointer) {
    const std::optional<Var> updated = ResolvePointer(body, *spec.updated_at_pointer);
    if (updated && (IsString(*updated) || IsNumber(*updated)) && !IsEmptyValue(*updated)) {
      change.updated_at = ValueText(*updated);
    }
  }
  changes->push_back(change);
  return Status::Ok();
}

}  // namespace

Status ParseWebhook(const Mapping& mapping, const WebhookDelivery& delivery,
                    std::vector<InboundChange>* changes) {
  if (!mapping.webhooks) return Status::Ok();
  Var body;
  std::string error;
  if (!ParseJson(delivery.body, &body, &error)) {
    return Status::InvalidRecord("webhook body is not valid JSON");
  }
  std::vector<InboundChange> parsed;
  if (IsArray(body)) {
    JsonArray events = body.extract<JsonArray>();
    for (unsigned int i = 0; i < events->size(); ++i) {
      Status status = ParseOne(mapping, *mapping.webhooks, events->get(i), delivery,
                               " [" + std::to_string(i) + "]", &parsed);
      if (!status.ok()) return status;
    }
  } else {
    Status status = ParseOne(mapping, *mapping.webhooks, body, delivery, "", &parsed);
    if (!status.ok()) return status;
  }
  changes->insert(changes->end(), parsed.begin(), parsed.end());
  return Status::Ok();
}

Status BuildWebhookRegistration(const Mapping& mapping, const WebhookRegistration& registration,
                                int64_t now_unix_ms, HttpRequest* out) {
  if (!mapping.webhooks || !mapping.webhooks->register_op) {
    return Status::Permanent("the mapping '" + mapping.name + "' has no webhooks.register");
  }
  TransformTables tables;
  tables.lookups = &mapping.lookups;
  return RenderRequest(*mapping.webhooks->register_op, WebhookContext(registration, now_unix_ms),
                       tables, "webhooks.register", out);
}

}  // namespace crmsync::genericrest
