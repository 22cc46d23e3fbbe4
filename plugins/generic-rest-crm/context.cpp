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

std::string IsoTimeMillis(int64_t unix_ms) {
  const Poco::Timestamp timestamp(static_cast<Poco::Timestamp::TimeVal>(unix_ms) * 1000);
  return Poco::DateTimeFormatter::format(timestamp, "%Y-%m-%dT%H:%M:%S.%iZ");
}

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// days_from_civil), so no time zone of the process is involved.
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// Reads `count` digits at *pos into *out.
bool Digits(const std::string& text, size_t* pos, size_t count, int64_t* out) {
  if (*pos + count > text.size()) return false;
  int64_t value = 0;
  for (size_t i = 0; i < count; ++i) {
    const char c = text[*pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  *pos += count;
  *out = value;
  return true;
}

bool Expect(const std::string& text, size_t* pos, char c) {
  if (*pos >= text.size() || text[*pos] != c) return false;
  ++*pos;
  return true;
}

}  // namespace

bool ParseCrmTime(const std::string& text, int64_t* unix_ms) {
  if (text.empty()) return false;
  if (text.find_first_not_of("0123456789") == std::string::npos) {
    if (text.size() > 15) return false;  // beyond year 33658: not a time
    *unix_ms = std::stoll(text);
    return true;
  }
  size_t pos = 0;
  int64_t year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, millis = 0;
  if (!Digits(text, &pos, 4, &year) || !Expect(text, &pos, '-') ||
      !Digits(text, &pos, 2, &month) || !Expect(text, &pos, '-') ||
      !Digits(text, &pos, 2, &day)) {
    return false;
  }
  if (pos >= text.size() || (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ')) {
    return false;
  }
  ++pos;
  if (!Digits(text, &pos, 2, &hour) || !Expect(text, &pos, ':') ||
      !Digits(text, &pos, 2, &minute)) {
    return false;
  }
  if (pos < text.size() && text[pos] == ':') {
    ++pos;
    if (!Digits(text, &pos, 2, &second)) return false;
    if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
      ++pos;
      size_t digits = 0;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        if (digits < 3) millis = millis * 10 + (text[pos] - '0');
        ++digits;
        ++pos;
      }
      if (digits == 0) return false;
      for (size_t i = digits; i < 3; ++i) millis *= 10;
    }
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
      second > 60) {
    return false;
  }
  int64_t offset_minutes = 0;
  if (pos < text.size()) {
    const char zone = text[pos++];
    if (zone == 'Z' || zone == 'z') {
      // UTC
    } else if (zone == '+' || zone == '-') {
      int64_t zone_hours = 0, zone_minutes = 0;
      if (!Digits(text, &pos, 2, &zone_hours)) return false;
      if (pos < text.size() && text[pos] == ':') ++pos;
      if (!Digits(text, &pos, 2, &zone_minutes) || zone_hours > 23 || zone_minutes > 59) {
        return false;
      }
      offset_minutes = (zone_hours * 60 + zone_minutes) * (zone == '-' ? -1 : 1);
    } else {
      return false;
    }
    if (pos != text.size()) return false;
  }
  const int64_t seconds = DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
                          second - offset_minutes * 60;
  *unix_ms = seconds * 1000 + millis;
  return true;
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
