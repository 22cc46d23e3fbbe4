// CRM webhooks in, webhook registration out; see webhook_mapping.h.
#include "webhook_mapping.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "context.h"
#include "request_builder.h"

namespace crmsync::genericrest {

bool IsPlatformStatus(EntityKind kind, const std::string& name) {
  if (kind == EntityKind::kLead) {
    LeadStatus status = LeadStatus::kNew;
    return ParseLeadStatus(name, &status);
  }
  PropertyStatus status = PropertyStatus::kActive;
  return ParsePropertyStatus(name, &status);
}

namespace {

// The event's name: one pointer (a string there, else the X-CRM-Event
// header), or several whose values (strings or numbers) are joined by ".".
Status EventName(const WebhookSpec& spec, const Var& event, const WebhookDelivery& delivery,
                 const std::string& where, std::string* name) {
  if (spec.event_pointers.size() == 1) {
    const std::string& pointer = spec.event_pointers.front();
    const std::optional<Var> value = ResolvePointer(event, pointer);
    if (value && IsString(*value)) {
      *name = value->extract<std::string>();
    } else if (!value || IsNull(*value)) {
      *name = FindHeader(delivery.headers, "X-CRM-Event");
    }
    if (name->empty()) {
      return Status::InvalidRecord("webhook" + where + " has no event name at " + pointer +
                                   " (a string) nor an X-CRM-Event header");
    }
    return Status::Ok();
  }
  for (const std::string& pointer : spec.event_pointers) {
    const std::optional<Var> value = ResolvePointer(event, pointer);
    if (!value || !(IsString(*value) || IsNumber(*value)) || IsEmptyValue(*value)) {
      return Status::InvalidRecord("webhook" + where + " has no event name part at " + pointer +
                                   " (a string or a number)");
    }
    *name += (name->empty() ? "" : ".") + ValueText(*value);
  }
  return Status::Ok();
}

// The CRM ids an event names: one, or each of an array (Zoho's /ids).
Status EntityIds(const WebhookSpec& spec, const Var& event, const std::string& where,
                 std::vector<std::string>* ids) {
  const std::string missing = "webhook" + where + " has no CRM id (a string or number";
  const std::optional<Var> value = ResolvePointer(event, spec.entity_id_pointer);
  if (value && IsArray(*value)) {
    JsonArray array = value->extract<JsonArray>();
    for (unsigned int i = 0; i < array->size(); ++i) {
      const std::optional<std::string> id = IdAt(array->get(i), "");
      if (!id) {
        return Status::InvalidRecord(missing + ") at " + spec.entity_id_pointer + "/" +
                                     std::to_string(i));
      }
      ids->push_back(*id);
    }
    return Status::Ok();
  }
  const std::optional<std::string> id = IdAt(event, spec.entity_id_pointer);
  if (!id) {
    return Status::InvalidRecord(missing + ", or an array of them) at " + spec.entity_id_pointer);
  }
  ids->push_back(*id);
  return Status::Ok();
}

// The data object `fields` read: the event's data, or {name: value} of a
// per-property event.
Status EventData(const WebhookSpec& spec, const Var& event, const std::string& where, Var* data) {
  *data = Var(NewObject());
  if (spec.property) {
    const std::optional<Var> name = ResolvePointer(event, spec.property->name_pointer);
    if (!name || !IsString(*name) || IsEmptyValue(*name)) {
      return Status::InvalidRecord("webhook" + where + " has no property name (a string) at " +
                                   spec.property->name_pointer);
    }
    const std::optional<Var> value = ResolvePointer(event, spec.property->value_pointer);
    JsonObject object = NewObject();
    object->set(name->extract<std::string>(), value ? *value : Var());
    *data = Var(object);
    return Status::Ok();
  }
  const std::optional<Var> value = ResolvePointer(event, spec.data_pointer);
  if (value && !IsNull(*value)) {
    if (!IsObject(*value)) {
      return Status::InvalidRecord(
          "webhook" + where + " " +
          (spec.data_pointer.empty() ? std::string("body") : spec.data_pointer) +
          " must be an object");
    }
    *data = *value;
  }
  return Status::Ok();
}

Status ParseOne(const Mapping& mapping, const WebhookSpec& spec, const Var& event,
                const WebhookDelivery& delivery, const std::string& where,
                std::vector<InboundChange>* changes) {
  if (!IsObject(event)) return Status::InvalidRecord("webhook" + where + " must be a JSON object");
  std::string name;
  Status status = EventName(spec, event, delivery, where, &name);
  if (!status.ok()) return status;
  auto listed = spec.events.find(name);
  if (listed == spec.events.end()) return Status::Ok();  // not ours to handle
  const EntityKind kind = listed->second;

  std::vector<std::string> ids;
  status = EntityIds(spec, event, where, &ids);
  if (!status.ok()) return status;
  std::vector<std::string> event_ids;
  if (spec.event_id_pointer) {
    const std::optional<std::string> event_id = IdAt(event, *spec.event_id_pointer);
    if (!event_id) {
      return Status::InvalidRecord("webhook" + where + " has no event id (a string or number) at " +
                                   *spec.event_id_pointer);
    }
    event_ids.push_back(*event_id);
  }
  JsonObject fields = NewObject();
  if (!spec.fetch) {
    Var data;
    status = EventData(spec, event, where, &data);
    if (!status.ok()) return status;
    status = MapInboundFields(mapping, kind, data, "webhook" + where + " data", &fields);
    if (!status.ok()) return status;
  }
  std::optional<std::string> updated_at;
  if (spec.updated_at_pointer) {
    const std::optional<Var> updated = ResolvePointer(event, *spec.updated_at_pointer);
    if (updated) updated_at = InboundTime(*updated);
  }
  for (const std::string& id : ids) {
    InboundChange change;
    change.crm_event = name;
    change.entity_kind = kind;
    change.external_id = id;
    change.fields_json = ToJson(Var(fields));
    change.updated_at = updated_at;
    change.event_ids = event_ids;
    change.fetch = spec.fetch;
    changes->push_back(change);
  }
  return Status::Ok();
}

// The events of a delivery, with where each is for messages.
Status DeliveryEvents(const WebhookSpec& spec, const Var& body,
                      std::vector<std::pair<Var, std::string>>* events) {
  Var list = body;
  std::string prefix = "";
  if (spec.events_pointer) {
    const std::optional<Var> found = ResolvePointer(body, *spec.events_pointer);
    if (!found || IsNull(*found)) return Status::Ok();
    if (!IsArray(*found)) {
      return Status::InvalidRecord("webhook " + *spec.events_pointer +
                                   " must be an array of events");
    }
    list = *found;
    prefix = " " + *spec.events_pointer + "/";
  } else if (!IsArray(body)) {
    events->emplace_back(body, "");
    return Status::Ok();
  } else {
    prefix = " [";
  }
  JsonArray array = list.extract<JsonArray>();
  for (unsigned int i = 0; i < array->size(); ++i) {
    const std::string index = std::to_string(i);
    events->emplace_back(array->get(i), prefix + index + (spec.events_pointer ? "" : "]"));
  }
  return Status::Ok();
}

}  // namespace

namespace {

// "2026-12-03T10:15:00[.fff](Z|+hh:mm)": the engine's form, kept as the CRM
// wrote it.
bool IsRfc3339(const std::string& t) {
  if (t.size() < 20 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':') return false;
  if (t.back() == 'Z') return true;
  const size_t n = t.size();
  return n >= 25 && (t[n - 6] == '+' || t[n - 6] == '-') && t[n - 3] == ':';
}

}  // namespace

std::optional<std::string> InboundTime(const Var& value) {
  if (IsNumber(value)) {
    if (!value.isInteger()) return std::nullopt;
    return IsoTimeMillis(value.convert<Poco::Int64>());
  }
  if (IsString(value) && !IsEmptyValue(value)) {
    // One form for the engine's stale checks: Salesforce's "+0000" and
    // Pipedrive's "2026-12-03 10:15:00" are ISO 8601 to a reader, not to the
    // engine's contract. A text that is no time at all is kept, so the engine
    // refuses the change naming it rather than losing the stale check quietly.
    const std::string text = value.extract<std::string>();
    int64_t unix_ms = 0;
    if (!IsRfc3339(text) && ParseCrmTime(text, &unix_ms)) return IsoTimeMillis(unix_ms);
    return text;
  }
  return std::nullopt;
}

Status MapInboundFields(const Mapping& mapping, EntityKind kind, const Var& data,
                        const std::string& where, JsonObject* fields) {
  const std::string entity = EntityKindName(kind);
  if (!mapping.webhooks) return Status::Ok();
  auto field_list = mapping.webhooks->fields.find(entity);
  if (field_list == mapping.webhooks->fields.end()) return Status::Ok();
  const TransformTables tables = mapping.Tables(kind);
  for (const WebhookField& field : field_list->second) {
    const std::optional<Var> found = ResolvePointer(data, field.from);
    if (!found || IsNull(*found)) continue;
    Var value = DeepCopy(*found);
    Status status = ApplyTransforms(field.transforms, tables, where + field.from, &value);
    if (!status.ok()) return status;
    if (IsEmptyValue(value)) continue;
    if (field.platform_field == "status" &&
        (!IsString(value) || !IsPlatformStatus(kind, value.extract<std::string>()))) {
      return Status::InvalidRecord(where + field.from + ": not a " + entity +
                                   " status (map it with statusIn)");
    }
    (*fields)->set(field.platform_field, value);
  }
  return Status::Ok();
}

std::vector<InboundChange> FoldChanges(const std::vector<InboundChange>& changes) {
  // Each record's changes, in delivery order, keyed by where the first was.
  std::vector<std::vector<const InboundChange*>> groups;
  std::map<std::pair<EntityKind, std::string>, size_t> group_of;
  for (const InboundChange& change : changes) {
    const auto key = std::make_pair(change.entity_kind, change.external_id);
    auto found = group_of.find(key);
    if (found == group_of.end()) {
      group_of[key] = groups.size();
      groups.push_back({&change});
    } else {
      groups[found->second].push_back(&change);
    }
  }
  std::vector<InboundChange> folded;
  for (std::vector<const InboundChange*>& group : groups) {
    if (group.size() == 1) {
      folded.push_back(*group.front());
      continue;
    }
    // updated_at order when every change has a readable time; stable, so
    // equal times (and unreadable ones) keep the delivery's order.
    std::vector<int64_t> times;
    for (const InboundChange* change : group) {
      int64_t ms = 0;
      if (!change->updated_at || !ParseCrmTime(*change->updated_at, &ms)) break;
      times.push_back(ms);
    }
    if (times.size() == group.size()) {
      std::vector<size_t> order(group.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::stable_sort(order.begin(), order.end(),
                       [&](size_t a, size_t b) { return times[a] < times[b]; });
      std::vector<const InboundChange*> sorted;
      for (size_t i : order) sorted.push_back(group[i]);
      group = sorted;
    }
    InboundChange merged = *group.front();
    JsonObject fields = NewObject();
    for (const InboundChange* change : group) {
      Var parsed;
      std::string error;
      if (ParseJson(change->fields_json, &parsed, &error) && IsObject(parsed)) {
        JsonObject object = parsed.extract<JsonObject>();
        for (const std::string& name : object->getNames()) {
          fields->set(name, object->get(name));  // a later value wins
        }
      }
      for (const std::string& id : change->event_ids) {
        if (std::find(merged.event_ids.begin(), merged.event_ids.end(), id) ==
            merged.event_ids.end()) {
          merged.event_ids.push_back(id);
        }
      }
      if (change->updated_at) merged.updated_at = change->updated_at;
      merged.crm_event = change->crm_event;
      merged.fetch = merged.fetch || change->fetch;
    }
    merged.fields_json = ToJson(Var(fields));
    folded.push_back(merged);
  }
  return folded;
}

Status ParseWebhook(const Mapping& mapping, const WebhookDelivery& delivery,
                    std::vector<InboundChange>* changes) {
  if (!mapping.webhooks) return Status::Ok();
  const WebhookSpec& spec = *mapping.webhooks;
  Var body;
  std::string error;
  if (!ParseJson(delivery.body, &body, &error)) {
    return Status::InvalidRecord("webhook body is not valid JSON");
  }
  std::vector<std::pair<Var, std::string>> events;
  Status status = DeliveryEvents(spec, body, &events);
  if (!status.ok()) return status;
  std::vector<InboundChange> parsed;
  for (const auto& event : events) {
    status = ParseOne(mapping, spec, event.first, delivery, event.second, &parsed);
    if (!status.ok()) return status;
  }
  const std::vector<InboundChange> folded = FoldChanges(parsed);
  changes->insert(changes->end(), folded.begin(), folded.end());
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
