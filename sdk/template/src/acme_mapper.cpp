// The acme-crm mapping; see acme_mapper.h.
#include "acme_mapper.h"

#include <cctype>
#include <sstream>

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/URI.h>

namespace acme {

using crmsync::EntityKind;
using crmsync::HttpRequest;
using crmsync::HttpResponse;
using crmsync::LeadStatus;
using crmsync::Status;
using crmsync::StepKind;
using crmsync::SyncJob;

namespace {

std::string Json(const Poco::JSON::Object& object) {
  std::ostringstream out;
  object.stringify(out);
  return out.str();
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Parses a JSON object; nullptr when `text` is not one.
Poco::JSON::Object::Ptr ParseObject(const std::string& text) {
  try {
    Poco::Dynamic::Var value = Poco::JSON::Parser().parse(text);
    if (value.type() != typeid(Poco::JSON::Object::Ptr)) return nullptr;
    return value.extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
    return nullptr;
  }
}

Poco::JSON::Object ContactBody(const SyncJob& job) {
  const crmsync::Lead& lead = *job.lead;
  Poco::JSON::Object body;
  body.set("ref", job.external_reference);
  if (lead.name) body.set("name", *lead.name);
  if (lead.email) body.set("email", *lead.email);
  if (lead.phone) body.set("phone", *lead.phone);
  if (lead.source) body.set("source", *lead.source);
  if (lead.status) body.set("stage", AcmeStage(*lead.status));
  if (lead.notes) body.set("notes", *lead.notes);
  if (lead.assigned_to_id) body.set("owner", *lead.assigned_to_id);
  if (lead.budget_min || lead.budget_max) {
    Poco::JSON::Object::Ptr budget = new Poco::JSON::Object();
    if (lead.budget_min) budget->set("min", *lead.budget_min);
    if (lead.budget_max) budget->set("max", *lead.budget_max);
    body.set("budget", budget);
  }
  if (!lead.preferred_location.empty()) {
    Poco::JSON::Array::Ptr areas = new Poco::JSON::Array();
    for (const std::string& area : lead.preferred_location) areas->add(area);
    body.set("areas", areas);
  }
  if (lead.lost_reason) body.set("lost_reason", *lead.lost_reason);
  return body;
}

Poco::JSON::Object ListingBody(const SyncJob& job) {
  const crmsync::Property& property = *job.property;
  Poco::JSON::Object body;
  body.set("ref", job.external_reference);
  if (property.title) body.set("title", *property.title);
  if (property.price) body.set("price", *property.price);
  if (property.city) body.set("city", *property.city);
  if (property.locality) body.set("locality", *property.locality);
  if (property.status) body.set("status", Lower(crmsync::PropertyStatusName(*property.status)));
  return body;
}

// The note Acme logs for an activity step.
std::string ActivityText(const SyncJob& job) {
  if (job.inquiry) return "Inquiry: " + job.inquiry->message.value_or("(no message)");
  if (job.lead && job.lead->status == LeadStatus::kViewingScheduled) return "Viewing scheduled";
  if (job.lead && job.lead->status == LeadStatus::kViewed) return "Property viewed";
  return "Activity";
}

}  // namespace

std::string AcmeStage(LeadStatus status) {
  switch (status) {
    case LeadStatus::kNew:
      return "new";
    case LeadStatus::kContacted:
      return "contacted";
    case LeadStatus::kQualified:
      return "qualified";
    case LeadStatus::kViewingScheduled:
      return "viewing";
    case LeadStatus::kViewed:
      return "viewed";
    case LeadStatus::kNegotiating:
      return "negotiating";
    case LeadStatus::kConverted:
      return "won";
    case LeadStatus::kLost:
      return "lost";
  }
  return "new";
}

bool PlatformStatus(const std::string& stage, LeadStatus* out) {
  const std::string word = Lower(stage);
  if (word == "closed_won") {
    *out = LeadStatus::kConverted;
    return true;
  }
  for (LeadStatus status : crmsync::AllLeadStatuses()) {
    if (AcmeStage(status) == word) {
      *out = status;
      return true;
    }
  }
  return false;
}

Status AcmeMapper::BuildRequest(const SyncJob& job, StepKind step, HttpRequest* out) {
  const bool lead = job.entity_kind == EntityKind::kLead;
  if (lead ? !job.lead : !job.property) return Status::Permanent("job carries no entity");
  const std::string collection = lead ? "/v1/contacts" : "/v1/listings";
  if (step != StepKind::kCreate && !job.external_id) {
    return Status::Permanent(std::string(crmsync::StepKindName(step)) + " needs the Acme id");
  }
  HttpRequest request;
  request.route = std::string(lead ? "lead." : "property.") + crmsync::StepKindName(step);
  switch (step) {
    case StepKind::kCreate:
      request.method = "POST";
      request.path = collection;
      request.body = Json(lead ? ContactBody(job) : ListingBody(job));
      break;
    case StepKind::kUpdate:
      request.method = "PUT";
      request.path = collection + "/" + *job.external_id;
      request.body = Json(lead ? ContactBody(job) : ListingBody(job));
      break;
    case StepKind::kActivity: {
      if (!lead) return Status::Permanent("Acme logs activities on contacts only");
      Poco::JSON::Object note;
      note.set("text", ActivityText(job));
      request.method = "POST";
      request.path = collection + "/" + *job.external_id + "/notes";
      request.body = Json(note);
      break;
    }
    case StepKind::kDeal: {
      if (!lead) return Status::Permanent("Acme opens deals on contacts only");
      Poco::JSON::Object deal;
      deal.set("title", "Deal for " + job.lead->name.value_or(job.entity_id));
      deal.set("stage", "won");
      if (job.lead->property_id) deal.set("listing_ref", "property:" + *job.lead->property_id);
      request.method = "POST";
      request.path = collection + "/" + *job.external_id + "/deals";
      request.body = Json(deal);
      break;
    }
  }
  *out = std::move(request);
  return Status::Ok();
}

Status AcmeMapper::ReadResponse(const SyncJob&, StepKind step, const HttpResponse& response,
                                crmsync::StepResult* out) {
  if (step != StepKind::kCreate) return Status::Ok();
  Poco::JSON::Object::Ptr body = ParseObject(response.body);
  if (!body || !body->has("id")) return Status::Permanent("Acme create answer has no id");
  out->external_id = body->get("id").toString();
  return Status::Ok();
}

Status AcmeMapper::BuildLookup(const SyncJob& job, HttpRequest* out) {
  std::string ref;
  Poco::URI::encode(job.external_reference, ":&=?/#+ ", ref);
  out->method = "GET";
  out->path = std::string(job.entity_kind == EntityKind::kLead ? "/v1/contacts" : "/v1/listings") +
              "?ref=" + ref;
  out->route = std::string(job.entity_kind == EntityKind::kLead ? "lead" : "property") + ".lookup";
  out->body.clear();
  return Status::Ok();
}

Status AcmeMapper::ReadLookup(const SyncJob&, const HttpResponse& response,
                              std::optional<std::string>* external_id) {
  external_id->reset();
  Poco::JSON::Object::Ptr body = ParseObject(response.body);
  if (!body) return Status::Permanent("Acme lookup answer is not a JSON object");
  Poco::JSON::Array::Ptr data = body->getArray("data");
  if (!data || data->size() == 0) return Status::Ok();  // Not there: the engine creates.
  Poco::JSON::Object::Ptr first = data->getObject(0);
  if (!first || !first->has("id")) return Status::Permanent("Acme lookup item has no id");
  *external_id = first->get("id").toString();
  return Status::Ok();
}

Status AcmeMapper::ParseWebhook(const crmsync::WebhookDelivery& delivery,
                                std::vector<crmsync::InboundChange>* changes) {
  changes->clear();
  Poco::JSON::Object::Ptr body = ParseObject(delivery.body);
  if (!body) return Status::InvalidRecord("webhook body is not a JSON object");
  const std::string event = body->optValue<std::string>("event", "");
  if (event.empty()) return Status::InvalidRecord("webhook has no event");
  if (event != "lead.created" && event != "lead.updated") return Status::Ok();  // Not ours.
  crmsync::InboundChange change;
  change.crm_event = event;
  change.entity_kind = EntityKind::kLead;
  change.external_id = body->optValue<std::string>("entityId", "");
  if (change.external_id.empty()) return Status::InvalidRecord("webhook has no entityId");
  Poco::JSON::Object fields;
  Poco::JSON::Object::Ptr data = body->getObject("data");
  if (data) {
    if (data->has("stage")) {
      LeadStatus status;
      const std::string stage = data->get("stage").toString();
      if (!PlatformStatus(stage, &status)) {
        return Status::InvalidRecord("webhook has an unknown stage '" + stage + "'");
      }
      fields.set("status", std::string(crmsync::LeadStatusName(status)));
    }
    if (data->has("notes")) fields.set("notes", data->get("notes").toString());
    if (data->has("owner")) fields.set("assignedToId", data->get("owner").toString());
    if (data->has("updatedAt")) change.updated_at = data->get("updatedAt").toString();
  }
  change.fields_json = Json(fields);
  changes->push_back(std::move(change));
  return Status::Ok();
}

}  // namespace acme
