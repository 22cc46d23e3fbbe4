// queue/lease.cpp: leased rows to LeasedJobs (see lease.h).
#include "queue/lease.h"

#include <algorithm>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

namespace crmsync::engine {
namespace {

// The propertyId a lead or inquiry payload refers to: the inquiry's, else the
// lead's; "" for none (or a payload DecodeJob will refuse with its reason).
std::string ReferredPropertyId(const std::string& payload) {
  // Most payloads name no property: no parse for them on the lease path.
  if (payload.find("\"propertyId\"") == std::string::npos) return "";
  try {
    Poco::JSON::Object::Ptr root =
        Poco::JSON::Parser().parse(payload).extract<Poco::JSON::Object::Ptr>();
    for (const char* part : {"inquiry", "lead"}) {
      Poco::JSON::Object::Ptr object = root->getObject(part);
      if (object && object->has("propertyId") && object->get("propertyId").isString()) {
        return object->getValue<std::string>("propertyId");
      }
    }
  } catch (const Poco::Exception&) {
  }
  return "";
}

// Where the property `job` refers to stands for `plugin` (RelatedState).
void ReadRelatedProperty(SqlPort& db, const std::string& plugin, LeasedJob* job) {
  job->related_property_id = ReferredPropertyId(job->payload);
  if (job->related_property_id.empty()) return;
  const char* kind = EntityKindName(EntityKind::kProperty);
  SqlRows link = db.Query(Sql::kGetLink, {plugin, kind, job->related_property_id});
  if (!link.Empty() && !link.IsNull(0, 0)) {
    job->related_property = link.Text(0, 0);
    job->related_property_state = RelatedState::kLinked;
  } else if (!db.Query(Sql::kHasActiveJob, {kind, job->related_property_id}).Empty()) {
    job->related_property_state = RelatedState::kPending;
  } else if (!db.Query(Sql::kGetProperty, {job->related_property_id}).Empty()) {
    job->related_property_state = RelatedState::kUnsent;
  }
}

}  // namespace

std::vector<LeasedJob> TakeLeased(SqlPort& db, const std::string& plugin, const SqlRows& r) {
  std::vector<LeasedJob> jobs;
  for (int i = 0; i < r.Rows(); ++i) {
    LeasedJob job;
    job.id = r.Int(i, 0);
    job.event_id = r.Text(i, 1);
    ParseEventType(r.Text(i, 2), &job.type);
    ParseEntityKind(r.Text(i, 3), &job.kind);
    job.entity_id = r.Text(i, 4);
    job.priority = static_cast<Priority>(r.Int(i, 5));
    job.payload = r.Text(i, 6);
    job.attempts = static_cast<int>(r.Int(i, 7));
    job.plan = r.Text(i, 8);
    job.step = static_cast<int>(r.Int(i, 9));
    job.in_doubt = r.Int(i, 10) != 0;
    job.created_at_ms = r.Int(i, 11);
    job.lease_token = r.Int(i, 12);
    jobs.push_back(std::move(job));
  }
  std::sort(jobs.begin(), jobs.end(), [](const LeasedJob& a, const LeasedJob& b) {
    return a.priority != b.priority ? a.priority < b.priority : a.id < b.id;
  });
  for (LeasedJob& job : jobs) {
    SqlRows link = db.Query(Sql::kGetLink, {plugin, EntityKindName(job.kind), job.entity_id});
    if (!link.Empty()) {
      job.external_id = link.OptText(0, 0);
      job.last_sent_hash = link.Text(0, 1);
    }
    if (job.kind == EntityKind::kLead) ReadRelatedProperty(db, plugin, &job);
  }
  return jobs;
}

}  // namespace crmsync::engine
