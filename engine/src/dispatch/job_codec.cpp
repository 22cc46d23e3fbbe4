// Payload decoding and plan text; see job_codec.h.
#include "dispatch/job_codec.h"

#include <cstdio>
#include <sstream>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/StringTokenizer.h>

namespace crmsync::engine {
namespace {

std::string Member(const Poco::JSON::Object::Ptr& object, const std::string& key) {
  if (!object->has(key) || object->isNull(key)) return "";
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(object->get(key), out);
  return out.str();
}

}  // namespace

bool DecodeJob(const LeasedJob& job, SyncJob* out, std::string* error) {
  out->job_id = std::to_string(job.id);
  out->event_id = job.event_id;
  out->event_type = job.type;
  out->entity_kind = job.kind;
  out->entity_id = job.entity_id;
  out->external_id = job.external_id;
  out->external_reference = ExternalReference(job.kind, job.entity_id);
  out->attempt = job.attempts + 1;
  out->related.clear();
  if (job.related_property) out->related["property"] = *job.related_property;
  Poco::JSON::Object::Ptr payload;
  try {
    payload = Poco::JSON::Parser().parse(job.payload).extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception& e) {
    *error = "job " + std::to_string(job.id) + ": stored payload is not JSON: " + e.message();
    return false;
  }
  // What the job changed; a payload without the list (a replayed dead
  // letter) carries the entity whole with nothing singled out.
  out->changed_fields.reset();
  if (payload->has("changed")) {
    Poco::JSON::Array::Ptr changed = payload->getArray("changed");
    out->changed_fields.emplace();
    for (size_t i = 0; changed && i < changed->size(); ++i) {
      const Poco::Dynamic::Var name = changed->get(static_cast<unsigned>(i));
      if (!name.isString()) {
        changed = nullptr;
        break;
      }
      out->changed_fields->push_back(name.extract<std::string>());
    }
    if (!changed) {
      *error = "job " + std::to_string(job.id) + ": stored changed list is not a list of names";
      return false;
    }
  }
  std::vector<FieldError> errors;
  if (job.kind == EntityKind::kProperty) {
    Property property;
    if (!DecodeProperty(Member(payload, "property"), "$.property", &property, &errors)) {
      *error = "job " + std::to_string(job.id) + ": stored property unreadable at " +
               (errors.empty() ? "$" : errors[0].path);
      return false;
    }
    out->property = std::move(property);
    return true;
  }
  Lead lead;
  if (!DecodeLead(Member(payload, "lead"), "$.lead", &lead, &errors)) {
    *error = "job " + std::to_string(job.id) + ": stored lead unreadable at " +
             (errors.empty() ? "$" : errors[0].path);
    return false;
  }
  out->lead = std::move(lead);
  if (payload->has("inquiry")) {
    Inquiry inquiry;
    if (!DecodeInquiry(Member(payload, "inquiry"), "$.inquiry", &inquiry, &errors)) {
      *error = "job " + std::to_string(job.id) + ": stored inquiry unreadable";
      return false;
    }
    out->inquiry = std::move(inquiry);
  }
  if (payload->has("assignment")) {
    DealerAssignment assignment;
    if (!DecodeDealerAssignment(Member(payload, "assignment"), "$.assignment", &assignment,
                                &errors)) {
      *error = "job " + std::to_string(job.id) + ": stored assignment unreadable";
      return false;
    }
    out->assignment = std::move(assignment);
  }
  return true;
}

std::string FormatPlan(const std::vector<StepKind>& steps) {
  std::string text;
  for (StepKind step : steps) {
    if (!text.empty()) text += ",";
    text += StepKindName(step);
  }
  return text;
}

bool ParsePlan(const std::string& text, std::vector<StepKind>* steps) {
  steps->clear();
  Poco::StringTokenizer parts(text, ",", Poco::StringTokenizer::TOK_IGNORE_EMPTY);
  for (const std::string& part : parts) {
    StepKind step;
    if (!ParseStepKind(part, &step)) return false;
    steps->push_back(step);
  }
  return true;
}

std::string ExternalReference(EntityKind kind, const std::string& entity_id) {
  return std::string(EntityKindName(kind)) + ":" + entity_id;
}


}  // namespace crmsync::engine
