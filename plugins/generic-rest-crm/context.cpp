// Template variables of a job and of a webhook registration; see context.h.
#include "context.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Timestamp.h>

namespace crmsync::genericrest {
namespace {

const std::vector<std::string>& JobExtras() {
  static const std::vector<std::string> kExtras = {
      "externalId",        "externalReference",   "entityId",
      "eventId",           "eventType",           "now",
      "activityType",
      "inquiry.id",        "inquiry.message",     "inquiry.propertyId",
      "inquiry.createdAt", "assignment.dealerId", "assignment.assignedAt",
      "related.property",  "related.agent",       "related.propertyAgent"};
  return kExtras;
}

// The roles of SyncJob::related that templates know (crmsync/adapter.h).
const char* const kRelatedRoles[] = {"property", "agent", "propertyAgent"};

void SetText(Context* context, const char* name, const std::optional<std::string>& value) {
  if (value) (*context)[name] = Var(*value);
}

void SetNumber(Context* context, const char* name, const std::optional<double>& value) {
  if (value) (*context)[name] = NumberValue(*value);
}

void AddLead(const Lead& lead, Context* context) {
  (*context)["id"] = Var(lead.id);
  SetText(context, "name", lead.name);
  SetText(context, "email", lead.email);
  SetText(context, "phone", lead.phone);
  SetText(context, "source", lead.source);
  if (lead.status) (*context)["status"] = Var(std::string(LeadStatusName(*lead.status)));
  SetText(context, "propertyId", lead.property_id);
  SetText(context, "assignedToId", lead.assigned_to_id);
  SetNumber(context, "budgetMin", lead.budget_min);
  SetNumber(context, "budgetMax", lead.budget_max);
  JsonArray areas = NewArray();
  for (const std::string& area : lead.preferred_location) areas->add(area);
  (*context)["preferredLocation"] = Var(areas);
  SetText(context, "utmSource", lead.utm_source);
  SetText(context, "notes", lead.notes);
  SetText(context, "createdAt", lead.created_at);
  SetText(context, "updatedAt", lead.updated_at);
  SetText(context, "lostReason", lead.lost_reason);
}

void AddProperty(const Property& property, Context* context) {
  (*context)["id"] = Var(property.id);
  SetText(context, "title", property.title);
  SetNumber(context, "price", property.price);
  SetText(context, "city", property.city);
  SetText(context, "locality", property.locality);
  if (property.status) {
    (*context)["status"] = Var(std::string(PropertyStatusName(*property.status)));
  }
  SetText(context, "ownerId", property.owner_id);
  SetText(context, "dealerId", property.dealer_id);
  SetText(context, "updatedAt", property.updated_at);
}

}  // namespace

std::string IsoTime(int64_t unix_ms) {
  const Poco::Timestamp timestamp(static_cast<Poco::Timestamp::TimeVal>(unix_ms) * 1000);
  return Poco::DateTimeFormatter::format(timestamp, "%Y-%m-%dT%H:%M:%SZ");
}

const std::vector<std::string>& PlatformFields(EntityKind kind) { return WireFields(kind); }

std::vector<std::string> JobVariables(EntityKind kind) {
  std::vector<std::string> names = PlatformFields(kind);
  names.insert(names.end(), JobExtras().begin(), JobExtras().end());
  return names;
}

bool IsJobVariable(EntityKind kind, const std::string& name) {
  const std::vector<std::string>& fields = PlatformFields(kind);
  const std::vector<std::string>& extras = JobExtras();
  return std::find(fields.begin(), fields.end(), name) != fields.end() ||
         std::find(extras.begin(), extras.end(), name) != extras.end();
}

bool IsWebhookVariable(const std::string& name) {
  return name == "webhook.url" || name == "webhook.events" || name == "webhook.secret" ||
         name == "now";
}

std::string ExternalReference(const SyncJob& job) {
  if (!job.external_reference.empty()) return job.external_reference;
  return std::string(EntityKindName(job.entity_kind)) + ":" + job.entity_id;
}

Context JobContext(const SyncJob& job, int64_t now_unix_ms, bool changed_only) {
  Context context;
  if (job.entity_kind == EntityKind::kLead) {
    if (job.lead) {
      AddLead(*job.lead, &context);
    } else if (job.inquiry) {
      AddLead(job.inquiry->lead, &context);
    } else {
      Lead lead;
      lead.id = job.assignment ? job.assignment->lead_id : job.entity_id;
      AddLead(lead, &context);
      // A job that carries only an assignment knows nothing of the areas.
      context.erase("preferredLocation");
    }
    if (job.assignment) context["assignedToId"] = Var(job.assignment->dealer_id);
  } else if (job.property) {
    AddProperty(*job.property, &context);
  }
  if (context.count("id") == 0 || context["id"].extract<std::string>().empty()) {
    context["id"] = Var(job.entity_id);
  }
  if (job.changed_fields) {
    const std::vector<std::string>& changed = *job.changed_fields;
    for (const std::string& field : PlatformFields(job.entity_kind)) {
      const bool named = std::find(changed.begin(), changed.end(), field) != changed.end();
      if (field == "id") continue;
      auto value = context.find(field);
      if (named && (value == context.end() || IsEmptyValue(value->second))) {
        MarkCleared(&context, field);
      } else if (!named && changed_only) {
        context.erase(field);
      }
    }
  }
  if (job.external_id) context["externalId"] = Var(*job.external_id);
  context["externalReference"] = Var(ExternalReference(job));
  context["entityId"] = Var(job.entity_id);
  context["eventId"] = Var(job.event_id);
  context["eventType"] = Var(std::string(EventTypeName(job.event_type)));
  // What an activity step records, as mock-crm names it: the inquiry, or the
  // visit the status change reports (never the inquiry's lead status).
  if (job.event_type == EventType::kInquirySubmitted) {
    context["activityType"] = Var(std::string("inquiry"));
  } else if (job.lead && job.lead->status) {
    std::string word = LeadStatusName(*job.lead->status);
    for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    context["activityType"] = Var(word);
  }
  context["now"] = Var(IsoTime(now_unix_ms));
  if (job.inquiry) {
    context["inquiry.id"] = Var(job.inquiry->id);
    SetText(&context, "inquiry.message", job.inquiry->message);
    SetText(&context, "inquiry.propertyId", job.inquiry->property_id);
    SetText(&context, "inquiry.createdAt", job.inquiry->created_at);
  }
  if (job.assignment) {
    context["assignment.dealerId"] = Var(job.assignment->dealer_id);
    SetText(&context, "assignment.assignedAt", job.assignment->assigned_at);
  }
  // The CRM's ids of related records. An absent role is a missing value (the
  // key is left out), never null: null would clear the CRM's link, while the
  // engine only lacks the id (the agent is not in the directory yet).
  // A role whose platform field the job cleared is cleared too (renders null,
  // like the field), so the CRM's link goes with it.
  const char* const kRoleFields[] = {"propertyId", "assignedToId", "dealerId"};
  for (size_t i = 0; i < 3; ++i) {
    const std::string name = std::string("related.") + kRelatedRoles[i];
    auto found = job.related.find(kRelatedRoles[i]);
    if (IsCleared(context, kRoleFields[i])) {
      MarkCleared(&context, name);
    } else if (found != job.related.end() && !found->second.empty()) {
      context[name] = Var(found->second);
    }
  }
  return context;
}

Context WebhookContext(const WebhookRegistration& registration, int64_t now_unix_ms) {
  Context context;
  context["webhook.url"] = Var(registration.url);
  JsonArray events = NewArray();
  for (const std::string& event : registration.events) events->add(event);
  context["webhook.events"] = Var(events);
  context["webhook.secret"] = Var(registration.secret);
  context["now"] = Var(IsoTime(now_unix_ms));
  return context;
}

}  // namespace crmsync::genericrest
